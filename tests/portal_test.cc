// The patient portal through the HTTP contract: enrolment, the three sign-in steps, balances,
// paying in full or in part with new and saved cards, posting, inbox, transactions, every
// error code of the portal routes, lockouts, TOTP rules, sessions and idempotency.
#define BOOST_TEST_MODULE portal
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <thread>

#include "portal_fixture.h"
#include "test_util.h"

using namespace remit;
using nlohmann::json;
using remit::testing::ExpectProblem;
using remit::testing::kPassword;
using remit::testing::Practice;
using remit::testing::TempDir;
using remit::testing::TestServer;

BOOST_FIXTURE_TEST_SUITE(portal, Practice)

BOOST_AUTO_TEST_CASE(whole_journey_with_posting_by_hand) {
  Enrolled("P100", "jane");
  std::string session = SignIn("jane");
  auto who = s.Call("GET", "/api/v1/whoami", session);
  BOOST_TEST(who.body == json({{"kind", "patient"}, {"practice_id", pid}, {"patient_id", "P100"}}));

  json b = Balances(session);
  BOOST_TEST(b["guarantor_id"] == "P100");
  BOOST_TEST(b["members"].size() == 3u);
  BOOST_TEST(b["total_balance_cents"] == 25000);
  BOOST_TEST(b["amount_due_cents"] == 25000);
  BOOST_TEST(b["payments_enabled"] == true);

  // A partial payment with a new card, saved.
  auto p1 = Pay(session,
                json{{"amount_cents", 5000}, {"card_token", NewCard()}, {"save_card", true}}, "k1");
  BOOST_REQUIRE_EQUAL(p1.status, 201);
  BOOST_TEST(p1.body["status"] == "succeeded");
  BOOST_TEST(p1.body["ledger_status"] == "pending");
  BOOST_TEST(p1.body["card"] == json({{"brand", "visa"}, {"last4", "4242"}}));
  b = Balances(session);
  BOOST_TEST(b["total_balance_cents"] == 25000);  // not posted: the balance stands
  BOOST_TEST(b["amount_due_cents"] == 20000);
  BOOST_REQUIRE(b["pending_payments"].size() == 1u);
  BOOST_TEST(b["pending_payments"][0]["amount_cents"] == 5000);
  BOOST_TEST(b["pending_payments"][0]["card_last4"] == "4242");

  auto cards = s.Call("GET", portal + "/me/cards", session);
  BOOST_REQUIRE(cards.body["items"].size() == 1u);
  std::string card_id = cards.body["items"][0]["card_id"];
  BOOST_TEST(cards.body["items"][0]["exp_year"] == 2030);

  // Then with the saved card.
  auto p2 = Pay(session, json{{"amount_cents", 3000}, {"card_id", card_id}}, "k2");
  BOOST_REQUIRE_EQUAL(p2.status, 201);
  BOOST_TEST(Balances(session)["amount_due_cents"] == 17000);

  // The practice: inbox and transactions.
  auto inbox = s.Call("GET", staff_base + "/inbox", admin);
  BOOST_REQUIRE(inbox.body["items"].size() == 2u);
  BOOST_TEST(inbox.body["items"][0]["kind"] == "payment_received");
  BOOST_TEST(inbox.body["items"][0]["payment_id"] == p2.body["payment_id"]);  // newest first
  BOOST_TEST(inbox.body["items"][0]["patient_name"] == "Jane Doe");
  BOOST_TEST(inbox.body["items"][0]["read"] == false);
  auto tx = s.Call("GET", staff_base + "/transactions", admin);
  BOOST_REQUIRE(tx.body["items"].size() == 2u);
  BOOST_TEST(tx.body["items"][1]["payment_id"] == p1.body["payment_id"]);
  BOOST_TEST(tx.body["items"][1]["ledger_status"] == "pending");
  BOOST_TEST(tx.body["items"][1]["card_brand"] == "visa");
  BOOST_TEST(tx.body["items"][1]["guarantor_id"] == "P100");

  // Staff post the first payment: it pays the oldest charge (C1 of Jane).
  std::string pay1 = p1.body["payment_id"];
  auto posted =
      s.Call("POST", staff_base + "/payments/" + pay1 + "/post-to-ledger", admin, std::string());
  BOOST_REQUIRE_EQUAL(posted.status, 200);
  BOOST_TEST(posted.body["ledger_status"] == "posted");
  BOOST_TEST(posted.body["posted_at"].is_string());
  auto end = LogEnd();
  BOOST_TEST(
      s.Call("POST", staff_base + "/payments/" + pay1 + "/post-to-ledger", admin, std::string())
          .status == 200);
  BOOST_TEST(LogEnd() == end);  // again: nothing changes
  b = Balances(session);
  BOOST_TEST(b["members"][0]["balance_cents"] == 12000);  // Jane: 12000 + 5000 - 5000
  BOOST_TEST(b["total_balance_cents"] == 20000);
  BOOST_TEST(b["amount_due_cents"] == 17000);
  BOOST_TEST(b["pending_payments"].size() == 1u);
  BOOST_TEST(StaffBalance("P100")["total_balance_cents"] == 20000);

  // Mark read; unread filter.
  std::string nid = inbox.body["items"][1]["notification_id"];
  BOOST_TEST(s.Call("POST", staff_base + "/inbox/" + nid + "/read", admin, std::string()).status ==
             200);
  auto unread = s.Call("GET", staff_base + "/inbox?unread=true", admin);
  BOOST_TEST(unread.body["items"].size() == 1u);
  ExpectProblem(s.Call("POST", staff_base + "/inbox/ntf_nope/read", admin, std::string()), 404,
                "not_found");

  // Remove the saved card.
  BOOST_TEST(s.Call("DELETE", portal + "/me/cards/" + card_id, session).status == 204);
  BOOST_TEST(s.Call("GET", portal + "/me/cards", session).body["items"].empty());
  ExpectProblem(s.Call("DELETE", portal + "/me/cards/" + card_id, session), 404, "card_not_found");
  ExpectProblem(Pay(session, json{{"amount_cents", 100}, {"card_id", card_id}}, "k3"), 404,
                "card_not_found");
}

BOOST_AUTO_TEST_CASE(automatic_posting_allocates_oldest_first_across_the_family) {
  Settings(true, true);
  Enrolled("P100", "jane");
  std::string session = SignIn("jane");
  // 15000: C1 (Jane, 2026-08-14) 12000 in full, then C2 (Sam, 2026-09-02) 3000.
  auto p = Pay(session, json{{"amount_cents", 15000}, {"card_token", NewCard("5555555555554444")}},
               "auto-1");
  BOOST_REQUIRE_EQUAL(p.status, 201);
  BOOST_TEST(p.body["ledger_status"] == "posted");
  BOOST_TEST(p.body["card"]["brand"] == "mastercard");
  json b = Balances(session);
  BOOST_TEST(b["pending_payments"].empty());
  BOOST_TEST(b["members"][0]["balance_cents"] == 5000);
  BOOST_TEST(b["members"][1]["balance_cents"] == 5000);
  BOOST_TEST(b["total_balance_cents"] == 10000);
  BOOST_TEST(b["amount_due_cents"] == 10000);
  auto tx = s.Call("GET", staff_base + "/transactions", admin);
  BOOST_TEST(tx.body["items"][0]["ledger_status"] == "posted");
  // Paying in full leaves nothing due.
  BOOST_REQUIRE_EQUAL(
      Pay(session, json{{"amount_cents", 10000}, {"card_token", NewCard()}}, "auto-2").status, 201);
  BOOST_TEST(Balances(session)["amount_due_cents"] == 0);
  ExpectProblem(Pay(session, json{{"amount_cents", 1}, {"card_token", NewCard()}}, "auto-3"), 422,
                "amount_exceeds_balance");
}

BOOST_AUTO_TEST_CASE(a_dependent_sees_and_pays_only_their_own) {
  Enrolled("P101", "sam");
  std::string session = SignIn("sam");
  json b = Balances(session);
  BOOST_TEST(b["members"].size() == 1u);
  BOOST_TEST(b["members"][0]["relationship"] == "dependent");
  BOOST_TEST(b["amount_due_cents"] == 8000);
  auto end = LogEnd();
  ExpectProblem(Pay(session, json{{"amount_cents", 8001}, {"card_token", NewCard()}}, "d1"), 422,
                "amount_exceeds_balance");
  BOOST_TEST(LogEnd() == end);
  BOOST_REQUIRE_EQUAL(
      Pay(session, json{{"amount_cents", 8000}, {"card_token", NewCard()}}, "d2").status, 201);
  // The guarantor sees the dependent's payment pending in the family view.
  json family = StaffBalance("P100");
  BOOST_TEST(family["pending_payments"].size() == 1u);
  BOOST_TEST(family["amount_due_cents"] == 17000);
  ExpectProblem(Pay(session, json{{"amount_cents", 1}, {"card_token", NewCard()}}, "d3"), 422,
                "amount_exceeds_balance");
}

BOOST_AUTO_TEST_CASE(payments_turned_off) {
  Settings(false, false);
  Enrolled("P100", "jane");
  std::string session = SignIn("jane");
  BOOST_TEST(Balances(session)["payments_enabled"] == false);
  auto end = LogEnd();
  ExpectProblem(Pay(session, json{{"amount_cents", 100}, {"card_token", NewCard()}}, "off"), 403,
                "payments_disabled");
  BOOST_TEST(LogEnd() == end);
}

BOOST_AUTO_TEST_CASE(declined_cards_are_recorded_and_shown) {
  Enrolled("P100", "jane");
  std::string session = SignIn("jane");
  auto d = Pay(
      session,
      json{
          {"amount_cents", 1000}, {"card_token", NewCard("4000000000000002")}, {"save_card", true}},
      "x1");
  ExpectProblem(d, 402, "card_declined");
  BOOST_TEST(d.body["decline_reason"] == "generic_decline");
  BOOST_TEST(d.body["payment_id"].is_string());
  auto f =
      Pay(session, json{{"amount_cents", 1000}, {"card_token", NewCard("4000000000009995")}}, "x2");
  ExpectProblem(f, 402, "card_declined");
  BOOST_TEST(f.body["decline_reason"] == "insufficient_funds");
  auto tx = s.Call("GET", staff_base + "/transactions", admin);
  BOOST_REQUIRE(tx.body["items"].size() == 2u);
  BOOST_TEST(tx.body["items"][0]["status"] == "declined");
  BOOST_TEST(tx.body["items"][0]["ledger_status"].is_null());
  BOOST_TEST(s.Call("GET", staff_base + "/inbox", admin).body["items"].empty());
  BOOST_TEST(s.Call("GET", portal + "/me/cards", session).body["items"].empty());  // not saved
  BOOST_TEST(Balances(session)["amount_due_cents"] == 25000);
  ExpectProblem(s.Call("POST",
                       staff_base + "/payments/" + d.body["payment_id"].get<std::string>() +
                           "/post-to-ledger",
                       admin, std::string()),
                409, "not_postable");
  ExpectProblem(
      s.Call("POST", staff_base + "/payments/pay_nope/post-to-ledger", admin, std::string()), 404,
      "not_found");
}

BOOST_AUTO_TEST_CASE(a_processor_timeout_is_retried_and_charges_once) {
  Enrolled("P100", "jane");
  std::string session = SignIn("jane");
  auto p =
      Pay(session, json{{"amount_cents", 2500}, {"card_token", NewCard("4000000000000119")}}, "t1");
  BOOST_REQUIRE_EQUAL(p.status, 201);
  BOOST_TEST(s.Call("GET", staff_base + "/transactions", admin).body["items"].size() == 1u);
  BOOST_TEST(Balances(session)["amount_due_cents"] == 22500);
}

BOOST_AUTO_TEST_CASE(idempotency_replay_conflict_and_concurrent_double_submit) {
  Enrolled("P100", "jane");
  std::string session = SignIn("jane");
  std::string card = NewCard();
  json body = {{"amount_cents", 1000}, {"card_token", card}};
  ExpectProblem(s.Call("POST", portal + "/me/payments", session, body), 400,
                "idempotency_key_required");
  auto first = Pay(session, body, "same");
  BOOST_REQUIRE_EQUAL(first.status, 201);
  auto again = Pay(session, body, "same");
  BOOST_TEST(again.status == 201);
  BOOST_TEST(again.headers["idempotent-replayed"] == "true");
  BOOST_TEST(again.body["payment_id"] == first.body["payment_id"]);
  ExpectProblem(Pay(session, json{{"amount_cents", 999}, {"card_token", card}}, "same"), 409,
                "idempotency_conflict");
  // Two identical requests at the same moment charge once.
  std::vector<TestServer::Reply> replies(2);
  std::thread a([&] {
    replies[0] = Pay(session, json{{"amount_cents", 700}, {"card_token", card}}, "race");
  });
  std::thread c([&] {
    replies[1] = Pay(session, json{{"amount_cents", 700}, {"card_token", card}}, "race");
  });
  a.join();
  c.join();
  BOOST_TEST(replies[0].status == 201);
  BOOST_TEST(replies[1].status == 201);
  BOOST_TEST(replies[0].body["payment_id"] == replies[1].body["payment_id"]);
  BOOST_TEST(s.Call("GET", staff_base + "/transactions", admin).body["items"].size() == 2u);
  BOOST_TEST(Balances(session)["amount_due_cents"] == 25000 - 1000 - 700);
}

BOOST_AUTO_TEST_CASE(transactions_page_with_a_cursor) {
  Settings(true, true);
  Enrolled("P100", "jane");
  std::string session = SignIn("jane");
  std::vector<std::string> ids;
  std::string after_three;
  for (int i = 0; i < 5; ++i) {
    auto p = Pay(session, json{{"amount_cents", 100 + i}, {"card_token", NewCard()}},
                 "page-" + std::to_string(i));
    BOOST_REQUIRE_EQUAL(p.status, 201);
    ids.insert(ids.begin(), p.body["payment_id"].get<std::string>());  // newest first
    if (i == 2) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      after_three = FormatTime(NowMicros(), true);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  // The list as it stood after the third payment.
  auto then = s.Call("GET", staff_base + "/transactions?as_of=" + after_three, admin);
  BOOST_REQUIRE_EQUAL(then.status, 200);
  BOOST_REQUIRE(then.body["items"].size() == 3u);
  BOOST_TEST(then.body["items"][0]["payment_id"] == ids[2]);
  BOOST_TEST(then.body["items"][0]["ledger_status"] == "posted");
  std::vector<std::string> seen;
  std::string cursor;
  for (int page = 0; page < 5; ++page) {
    auto r = s.Call(
        "GET", staff_base + "/transactions?limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor),
        admin);
    BOOST_REQUIRE_EQUAL(r.status, 200);
    for (const auto& t : r.body["items"]) seen.push_back(t["payment_id"]);
    if (r.body["next_cursor"].is_null()) break;
    cursor = r.body["next_cursor"];
  }
  BOOST_TEST(seen == ids, boost::test_tools::per_element());
  ExpectProblem(s.Call("GET", staff_base + "/transactions?limit=0", admin), 400,
                "validation_failed");
  ExpectProblem(s.Call("GET", staff_base + "/transactions?cursor=a/b", admin), 400,
                "validation_failed");
}

BOOST_AUTO_TEST_CASE(payment_request_validation) {
  Enrolled("P100", "jane");
  std::string session = SignIn("jane");
  std::string card = NewCard();
  auto end = LogEnd();
  for (const char* bad : {"12.5", "\"12\"", "1e3", "-5", "0"}) {
    std::string body =
        std::string(R"({"card_token":")") + card + R"(","amount_cents":)" + bad + "}";
    ExpectProblem(s.Call("POST", portal + "/me/payments", session, body,
                         {{"Idempotency-Key", std::string("v") + bad}}),
                  422, "invalid_amount");
  }
  ExpectProblem(Pay(session, json{{"amount_cents", 100}}, "v-none"), 400, "validation_failed");
  ExpectProblem(
      Pay(session, json{{"amount_cents", 100}, {"card_token", card}, {"card_id", "c"}}, "v-both"),
      400, "validation_failed");
  ExpectProblem(Pay(session, json{{"amount_cents", 100}, {"card_token", "tok_unknown"}}, "v-tok"),
                404, "card_not_found");
  ExpectProblem(Pay(session, json{{"amount_cents", 100}, {"card_id", "card_unknown"}}, "v-card"),
                404, "card_not_found");
  ExpectProblem(Pay(session, json{{"amount_cents", 25001}, {"card_token", card}}, "v-big"), 422,
                "amount_exceeds_balance");
  BOOST_TEST(LogEnd() == end);
  // Bad cards at the tokenizer.
  for (auto [number, month, year] :
       {std::tuple{"4242424242424241", 12, 2030}, std::tuple{"4242424242424242", 1, 2020},
        std::tuple{"4242424242424242", 13, 2030}}) {
    ExpectProblem(
        s.Call("POST", "/sandbox-gateway/v1/tokens", "",
               json{{"number", number}, {"exp_month", month}, {"exp_year", year}, {"cvc", "123"}}),
        422, "invalid_card");
  }
}

BOOST_AUTO_TEST_CASE(enrolment_errors) {
  std::string code = Invite("P100");
  ExpectProblem(Enroll(code, "jane", "short"), 422, "weak_password");
  ExpectProblem(Enroll(code, "janedoe1", "janedoe1"), 422, "weak_password");
  ExpectProblem(Enroll(code, "jane", "password123"), 422, "weak_password");
  ExpectProblem(Enroll(code, "jane", std::string(65, 'x')), 422, "weak_password");
  ExpectProblem(Enroll("not-a-code", "jane"), 400, "invalid_invite");
  BOOST_REQUIRE_EQUAL(Enroll(code, "jane").status, 201);
  ExpectProblem(Enroll(code, "jane2"), 400, "invalid_invite");  // single use
  ExpectProblem(Enroll(Invite("P101"), "JANE"), 409, "username_taken");
  ExpectProblem(s.Call("POST", portal + "/enroll", "", json{{"invite_code", code}}), 400,
                "validation_failed");
}

BOOST_AUTO_TEST_CASE(identity_check_methods_and_lockout) {
  Enrolled("P100", "jane");
  Identity("jane", "phone", "+1 (555) 010-2030");
  Identity("jane", "email", "  Jane.Doe@Example.com ");
  Identity("jane", "initials", "JD");
  auto wrong = s.Call("POST", portal + "/identity-check", "",
                      json{{"username", "jane"}, {"method", "initials"}, {"value", "xx"}});
  auto unknown = s.Call("POST", portal + "/identity-check", "",
                        json{{"username", "nobody"}, {"method", "initials"}, {"value", "jd"}});
  ExpectProblem(wrong, 401, "identity_not_verified");
  ExpectProblem(unknown, 401, "identity_not_verified");
  BOOST_TEST(wrong.raw == unknown.raw);  // the same answer either way
  ExpectProblem(s.Call("POST", portal + "/identity-check", "",
                       json{{"username", "jane"}, {"method", "dob"}, {"value", "x"}}),
                400, "validation_failed");
  for (int i = 0; i < 4; ++i) {
    ExpectProblem(s.Call("POST", portal + "/identity-check", "",
                         json{{"username", "jane"}, {"method", "email"}, {"value", "no"}}),
                  401, "identity_not_verified");
  }
  // Five failures in 15 minutes: locked, even with the right answer.
  ExpectProblem(s.Call("POST", portal + "/identity-check", "",
                       json{{"username", "jane"}, {"method", "initials"}, {"value", "jd"}}),
                429, "locked_out");
}

BOOST_AUTO_TEST_CASE(password_lockout_after_ten_failures) {
  Enrolled("P100", "jane");
  std::string id = Identity("jane");
  auto end = LogEnd();
  for (int i = 0; i < 10; ++i) {
    ExpectProblem(
        s.Call("POST", portal + "/login", "",
               json{{"identity_token", id}, {"username", "jane"}, {"password", "wrong-pass"}}),
        401, "invalid_credentials");
  }
  BOOST_TEST(LogEnd() > end);  // each failure is recorded
  ExpectProblem(s.Call("POST", portal + "/login", "",
                       json{{"identity_token", id}, {"username", "jane"}, {"password", kPassword}}),
                429, "locked_out");
  ExpectProblem(
      s.Call("POST", portal + "/login", "",
             json{{"identity_token", "bogus"}, {"username", "jane"}, {"password", kPassword}}),
      401, "identity_not_verified");
}

BOOST_AUTO_TEST_CASE(totp_rules) {
  Enrolled("P100", "jane");
  // One step of drift either way is accepted; two are not.
  std::string ch = Challenge("jane");
  ExpectProblem(s.Call("POST", portal + "/login/verify", "",
                       json{{"challenge_token", ch}, {"code", Code("jane", 2)}}),
                401, "invalid_code");
  ExpectProblem(s.Call("POST", portal + "/login/verify", "",
                       json{{"challenge_token", ch}, {"code", Code("jane", -2)}}),
                401, "invalid_code");
  BOOST_TEST(s.Call("POST", portal + "/login/verify", "",
                    json{{"challenge_token", ch}, {"code", Code("jane", -1)}})
                 .status == 200);
  // The challenge is spent, and a code is accepted once.
  ExpectProblem(s.Call("POST", portal + "/login/verify", "",
                       json{{"challenge_token", ch}, {"code", Code("jane", 0)}}),
                401, "invalid_code");
  std::string ch2 = Challenge("jane");
  ExpectProblem(s.Call("POST", portal + "/login/verify", "",
                       json{{"challenge_token", ch2}, {"code", Code("jane", -1)}}),
                401, "invalid_code");
  BOOST_TEST(s.Call("POST", portal + "/login/verify", "",
                    json{{"challenge_token", ch2}, {"code", Code("jane", 1)}})
                 .status == 200);
  // The fifth wrong code voids the challenge: even a good code then fails.
  clock_offset_us += 120 * 1000000LL;
  std::string ch3 = Challenge("jane");
  for (int i = 0; i < 5; ++i) {
    ExpectProblem(s.Call("POST", portal + "/login/verify", "",
                         json{{"challenge_token", ch3}, {"code", "000000"}}),
                  401, "invalid_code");
  }
  ExpectProblem(s.Call("POST", portal + "/login/verify", "",
                       json{{"challenge_token", ch3}, {"code", Code("jane", 0)}}),
                401, "invalid_code");
}

BOOST_AUTO_TEST_CASE(sessions_expire_and_end) {
  Enrolled("P100", "jane");
  std::string session = SignIn("jane");
  BOOST_TEST(s.Call("GET", portal + "/me/balances", session).status == 200);
  clock_offset_us += 59 * 60 * 1000000LL;
  BOOST_TEST(s.Call("GET", portal + "/me/balances", session).status ==
             200);  // activity resets idle
  clock_offset_us += 61 * 60 * 1000000LL;
  ExpectProblem(s.Call("GET", portal + "/me/balances", session), 401,
                "unauthorized");  // idle > 1 h

  std::string second = SignIn("jane", 1);
  // Active every 50 minutes, never idle: still ended 12 hours after it began.
  for (int h = 0; h < 15; ++h) {
    clock_offset_us += 50 * 60 * 1000000LL;
    BOOST_TEST_CONTEXT("after " << 50 * (h + 1) << " minutes") {
      BOOST_TEST(s.Call("GET", portal + "/me/balances", second).status == (h < 14 ? 200 : 401));
    }
  }

  clock_offset_us += 5 * 60 * 1000000LL;
  std::string third = SignIn("jane");
  BOOST_TEST(s.Call("POST", portal + "/logout", third, std::string()).status == 204);
  ExpectProblem(s.Call("GET", portal + "/me/balances", third), 401, "unauthorized");
  ExpectProblem(s.Call("GET", "/api/v1/whoami", third), 401, "unauthorized");
}

BOOST_AUTO_TEST_CASE(who_may_read_what) {
  Enrolled("P100", "jane");
  std::string session = SignIn("jane");
  ExpectProblem(s.Call("GET", portal + "/me/balances", admin), 403, "forbidden");  // staff on /me
  ExpectProblem(s.Call("GET", staff_base + "/accounts/P101/balance", session), 403,
                "forbidden");  // patient on staff
  ExpectProblem(s.Call("GET", staff_base + "/transactions", session), 403, "forbidden");
  ExpectProblem(s.Call("GET", portal + "/me/balances"), 401, "unauthorized");
  // Another practice's portal with this session.
  BOOST_REQUIRE(
      s.Call("POST", "/api/v1/practices", s.operator_token(),
             json{{"practice_id", "other-dental"}, {"name", "Other"}, {"currency", "USD"}})
          .status == 201);
  ExpectProblem(s.Call("GET", "/api/v1/portal/other-dental/me/balances", session), 403,
                "forbidden");
  ExpectProblem(s.Call("GET", "/api/v1/portal/no-such-practice/me/balances", session), 404,
                "not_found");
}

BOOST_AUTO_TEST_CASE(no_secret_or_card_number_is_stored_or_logged) {
  Enrolled("P100", "jane");
  std::string session = SignIn("jane");
  BOOST_REQUIRE_EQUAL(
      Pay(session, json{{"amount_cents", 1000}, {"card_token", NewCard()}, {"save_card", true}},
          "scan")
          .status,
      201);
  std::string secret = *s.node().portal->TotpSecretForTesting(pid, "jane");
  std::vector<std::string> needles = {"4242424242424242", kPassword, secret, Base32(secret),
                                      session};
  // Every byte under the data directory: log, views, secrets (sealed), processor, tokens.
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir.path())) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    for (const auto& n : needles) {
      BOOST_TEST_CONTEXT(entry.path().string()) { BOOST_TEST(bytes.find(n) == std::string::npos); }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

// A crash between the durable submission and the recorded outcome: the next start charges the
// payment (once) and records it; the patient's retry of the same request gets the payment.
BOOST_AUTO_TEST_CASE(a_payment_cut_short_by_a_crash_is_finished_at_the_next_start) {
  TempDir dir;
  std::string admin, card;
  {
    TestServer s(dir.path());
    const std::string base = "/api/v1/practices/crash-dental";
    BOOST_REQUIRE(s.Call("POST", "/api/v1/practices", s.operator_token(),
                         json{{"practice_id", "crash-dental"}, {"name", "C"}, {"currency", "USD"}})
                      .status == 201);
    admin =
        s.Call("POST", base + "/tokens", s.operator_token(), json{{"role", "admin"}}).body["token"];
    s.Call("PUT", base + "/settings", admin, json{{"portal_payments_enabled", true}});
    s.Call("PUT", base + "/patients/P1", admin, json{{"first_name", "A"}, {"last_name", "B"}});
    s.Call("POST", base + "/charges", admin,
           json{{"charge_id", "C1"},
                {"patient_id", "P1"},
                {"amount_cents", 9000},
                {"service_date", "2026-01-01"}});
    card = s.Call("POST", "/sandbox-gateway/v1/tokens", "",
                  json{{"number", "4242424242424242"},
                       {"exp_month", 1},
                       {"exp_year", 2031},
                       {"cvc", "321"}})
               .body["card_token"];
    // Step 1 of a payment only, as if the process died right after it.
    engine::SubmitPayment cmd;
    cmd.patient_id = "P1";
    cmd.payment_id = "pay_cut_short";
    cmd.amount_cents = 4000;
    cmd.processor_token = card;
    cmd.brand = "visa";
    cmd.last4 = "4242";
    auto r = s.app().Execute(
        engine::CommandContext{"crash-dental", "pay:pay_cut_short", {}, "patient:P1", 0}, cmd);
    BOOST_REQUIRE(r.ok());
    BOOST_REQUIRE(!r->rejection);
    BOOST_TEST(s.Call("GET", base + "/transactions", admin).body["items"].empty());
  }
  TestServer s(dir.path());
  auto tx = s.Call("GET", "/api/v1/practices/crash-dental/transactions", admin);
  BOOST_REQUIRE(tx.body["items"].size() == 1u);
  BOOST_TEST(tx.body["items"][0]["payment_id"] == "pay_cut_short");
  BOOST_TEST(tx.body["items"][0]["status"] == "succeeded");
  auto bal = s.Call("GET", "/api/v1/practices/crash-dental/accounts/P1/balance", admin);
  BOOST_TEST(bal.body["amount_due_cents"] == 5000);
  // Exactly one succeeded event for it in the log.
  std::vector<LogEntry> entries;
  BOOST_REQUIRE(s.app().log().Read(0, 10000, &entries).ok());
  int succeeded = 0;
  for (const auto& e : entries) {
    auto ev = DecodeRecord(e.record);
    BOOST_REQUIRE(ev.ok());
    if (auto* p = std::get_if<PaymentSucceeded>(&ev->payload);
        p && p->payment_id == "pay_cut_short")
      ++succeeded;
  }
  BOOST_TEST(succeeded == 1);
}
