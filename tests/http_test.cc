// The HTTP contract of the foundation slice, through a real server on a loopback port:
// every endpoint, every error code it can return, and that failed requests write nothing.
#define BOOST_TEST_MODULE http
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <thread>

#include "adapters/http/qr_png.h"
#include "adapters/storage/rocks_event_log.h"
#include "test_util.h"

using namespace remit;
using nlohmann::json;
using remit::testing::TempDir;
using remit::testing::TestServer;

namespace {

// A server with practice "acme-dental", an admin, a staff and an auditor token.
struct Fixture {
  TempDir dir;
  TestServer s{dir.path()};
  std::string op = s.operator_token();
  std::string admin, staff, auditor;
  const std::string base = "/api/v1/practices/acme-dental";

  Fixture() {
    auto r =
        s.Call("POST", "/api/v1/practices", op,
               json{{"practice_id", "acme-dental"}, {"name", "Acme Dental"}, {"currency", "USD"}});
    BOOST_REQUIRE_EQUAL(r.status, 201);
    admin = Token("admin");
    staff = Token("staff");
    auditor = Token("auditor");
  }
  std::string Token(const std::string& role) {
    auto r = s.Call("POST", base + "/tokens", op, json{{"role", role}, {"label", role}});
    BOOST_REQUIRE_EQUAL(r.status, 201);
    return r.body["token"];
  }
  uint64_t LogEnd() { return s.app().log().EndOffset(); }
  void Patient(const std::string& id, const std::string& first, const json& guarantor = nullptr,
               int expect = 201) {
    auto r = s.Call("PUT", base + "/patients/" + id, staff,
                    json{{"first_name", first},
                         {"last_name", "Doe"},
                         {"phone", "555-0100"},
                         {"email", first + "@example.com"},
                         {"date_of_birth", "1980-01-01"},
                         {"guarantor_id", guarantor}});
    BOOST_REQUIRE_EQUAL(r.status, expect);
  }
  void Charge(const std::string& id, const std::string& patient, int64_t cents,
              const std::string& date = "2026-10-01") {
    auto r = s.Call("POST", base + "/charges", staff,
                    json{{"charge_id", id},
                         {"patient_id", patient},
                         {"amount_cents", cents},
                         {"description", "Exam"},
                         {"service_date", date}});
    BOOST_REQUIRE_EQUAL(r.status, 201);
  }
};

void ExpectProblem(const TestServer::Reply& r, int status, const std::string& code) {
  BOOST_TEST(r.status == status);
  BOOST_TEST(r.headers.at("content-type") == "application/problem+json");
  BOOST_TEST(r.body.value("code", "") == code);
  BOOST_TEST(r.body.value("status", 0) == status);
  BOOST_TEST(r.body.contains("title"));
  BOOST_TEST(r.body.contains("type"));
}

}  // namespace

// The data: URLs of QR codes (RFC 4648's test vectors, and bytes above 0x7f).
BOOST_AUTO_TEST_CASE(base64_is_rfc4648) {
  BOOST_TEST(Base64("") == "");
  BOOST_TEST(Base64("f") == "Zg==");
  BOOST_TEST(Base64("fo") == "Zm8=");
  BOOST_TEST(Base64("foo") == "Zm9v");
  BOOST_TEST(Base64("foob") == "Zm9vYg==");
  BOOST_TEST(Base64("fooba") == "Zm9vYmE=");
  BOOST_TEST(Base64("foobar") == "Zm9vYmFy");
  BOOST_TEST(Base64(std::string("\xff\xfe\x00\x80", 4)) == "//4AgA==");
}

BOOST_FIXTURE_TEST_SUITE(contract, Fixture)

BOOST_AUTO_TEST_CASE(health_and_metrics) {
  auto h = s.Call("GET", "/healthz");
  BOOST_TEST(h.status == 200);
  BOOST_TEST(h.body["status"] == "ok");
  auto m = s.Call("GET", "/metrics");
  BOOST_TEST(m.status == 200);
  BOOST_TEST(
      m.raw.find("remit_http_requests_total{route=\"POST /api/v1/practices\",status=\"201\"} 1") !=
      std::string::npos);
  BOOST_TEST(m.raw.find("remit_http_request_duration_seconds_bucket") != std::string::npos);
  BOOST_TEST(m.raw.find("remit_events_appended") != std::string::npos);
  BOOST_TEST(m.raw.find("remit_projection_lag_events") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(whoami_for_each_kind) {
  BOOST_TEST(s.Call("GET", "/api/v1/whoami", op).body == json({{"kind", "operator"}}));
  auto a = s.Call("GET", "/api/v1/whoami", auditor);
  BOOST_TEST(a.body["kind"] == "staff");
  BOOST_TEST(a.body["practice_id"] == "acme-dental");
  BOOST_TEST(a.body["role"] == "auditor");
  BOOST_TEST(a.body["token_id"].is_string());
  ExpectProblem(s.Call("GET", "/api/v1/whoami"), 401, "unauthorized");
  ExpectProblem(s.Call("GET", "/api/v1/whoami", "rms_bogus"), 401, "unauthorized");
}

BOOST_AUTO_TEST_CASE(practices_create_conflict_and_validation) {
  auto end = LogEnd();
  ExpectProblem(
      s.Call("POST", "/api/v1/practices", op,
             json{{"practice_id", "acme-dental"}, {"name", "Again"}, {"currency", "USD"}}),
      409, "practice_exists");
  ExpectProblem(s.Call("POST", "/api/v1/practices", op,
                       json{{"practice_id", "Bad_Id"}, {"name", "x"}, {"currency", "USD"}}),
                400, "validation_failed");
  ExpectProblem(s.Call("POST", "/api/v1/practices", op, json{{"name", "x"}}), 400,
                "validation_failed");
  ExpectProblem(s.Call("POST", "/api/v1/practices", op, std::string("{not json")), 400,
                "validation_failed");
  ExpectProblem(s.Call("POST", "/api/v1/practices", admin,
                       json{{"practice_id", "other-one"}, {"name", "x"}, {"currency", "USD"}}),
                403, "forbidden");
  ExpectProblem(s.Call("POST", "/api/v1/practices", "",
                       json{{"practice_id", "other-one"}, {"name", "x"}, {"currency", "USD"}}),
                401, "unauthorized");
  BOOST_TEST(LogEnd() == end);  // nothing was written by any failure
  auto r = s.Call("POST", "/api/v1/practices", op,
                  json{{"practice_id", "other-one"}, {"name", "Other"}, {"currency", "USD"}});
  BOOST_TEST(r.status == 201);
  BOOST_TEST(r.body["portal_payments_enabled"] == false);
  BOOST_TEST(r.body["auto_post_to_ledger"] == false);
}

BOOST_AUTO_TEST_CASE(tokens_create_revoke_and_roles) {
  auto r = s.Call("POST", base + "/tokens", admin, json{{"role", "staff"}, {"label", "desk"}});
  BOOST_TEST(r.status == 201);
  BOOST_TEST(r.body["role"] == "staff");
  std::string t = r.body["token"], id = r.body["token_id"];
  BOOST_TEST(s.Call("GET", "/api/v1/whoami", t).status == 200);
  ExpectProblem(s.Call("POST", base + "/tokens", staff, json{{"role", "admin"}}), 403, "forbidden");
  ExpectProblem(s.Call("POST", base + "/tokens", admin, json{{"role", "owner"}}), 400,
                "validation_failed");
  ExpectProblem(s.Call("POST", "/api/v1/practices/no-such/tokens", op, json{{"role", "admin"}}),
                404, "not_found");
  BOOST_TEST(s.Call("DELETE", base + "/tokens/" + id, admin).status == 204);
  ExpectProblem(s.Call("GET", "/api/v1/whoami", t), 401, "unauthorized");
  ExpectProblem(s.Call("GET", base + "/settings", t), 401, "unauthorized");
  ExpectProblem(s.Call("DELETE", base + "/tokens/tok_nope", admin), 404, "not_found");
}

BOOST_AUTO_TEST_CASE(tokens_are_stored_hashed) {
  // No view and no event holds a usable token: scan every stored byte of the views.
  std::string found;
  s.app().views().Scan("", [&](std::string_view k, std::string_view v) {
    if (std::string(v).find(admin) != std::string::npos ||
        std::string(k).find(admin) != std::string::npos) {
      found = std::string(k);
    }
    return true;
  });
  BOOST_TEST(found.empty());
  std::vector<LogEntry> entries;
  BOOST_REQUIRE(s.app().log().Read(0, 1000, &entries).ok());
  for (const auto& e : entries) BOOST_TEST(e.record.find(admin) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(settings_get_put_and_roles) {
  auto g = s.Call("GET", base + "/settings", staff);
  BOOST_TEST(g.status == 200);
  BOOST_TEST(g.body == json({{"portal_payments_enabled", false},
                             {"auto_post_to_ledger", false},
                             {"currency", "USD"},
                             {"name", "Acme Dental"}}));
  auto p = s.Call("PUT", base + "/settings", admin, json{{"portal_payments_enabled", true}});
  BOOST_TEST(p.status == 200);
  BOOST_TEST(p.body["portal_payments_enabled"] == true);
  BOOST_TEST(p.body["auto_post_to_ledger"] == false);
  BOOST_TEST(s.Call("GET", base + "/settings", staff).body["portal_payments_enabled"] == true);
  auto end = LogEnd();
  ExpectProblem(s.Call("PUT", base + "/settings", staff, json{{"auto_post_to_ledger", true}}), 403,
                "forbidden");
  ExpectProblem(s.Call("PUT", base + "/settings", admin, json{{"auto_post_to_ledger", "yes"}}), 400,
                "validation_failed");
  ExpectProblem(s.Call("GET", base + "/settings", auditor), 403, "forbidden");
  ExpectProblem(s.Call("GET", base + "/settings", op), 403, "forbidden");
  BOOST_TEST(LogEnd() == end);
  // The same settings again change nothing in the log.
  BOOST_TEST(
      s.Call("PUT", base + "/settings", admin, json{{"portal_payments_enabled", true}}).status ==
      200);
  BOOST_TEST(LogEnd() == end);
}

BOOST_AUTO_TEST_CASE(wrong_practice_is_forbidden) {
  s.Call("POST", "/api/v1/practices", op,
         json{{"practice_id", "other-one"}, {"name", "O"}, {"currency", "USD"}});
  ExpectProblem(s.Call("GET", "/api/v1/practices/other-one/settings", admin), 403, "forbidden");
  ExpectProblem(s.Call("PUT", "/api/v1/practices/other-one/patients/P1", staff,
                       json{{"first_name", "a"}, {"last_name", "b"}}),
                403, "forbidden");
}

BOOST_AUTO_TEST_CASE(portal_link) {
  auto r = s.Call("GET", base + "/resources/portal-link", staff);
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.body["url"] ==
             "http://127.0.0.1:" + std::to_string(s.port()) + "/portal/acme-dental");
  ExpectProblem(s.Call("GET", base + "/resources/portal-link", auditor), 403, "forbidden");
}

BOOST_AUTO_TEST_CASE(patients_create_update_and_guarantor_rules) {
  Patient("P100", "Jane");
  Patient("P100", "Jane", nullptr, 200);   // same body: 200, nothing changes
  Patient("P100", "Janet", nullptr, 200);  // updated
  Patient("P101", "Sam", "P100");
  auto end = LogEnd();
  auto put = [&](const std::string& id, const json& g) {
    return s.Call("PUT", base + "/patients/" + id, staff,
                  json{{"first_name", "X"}, {"last_name", "Y"}, {"guarantor_id", g}});
  };
  ExpectProblem(put("P102", "P999"), 422, "invalid_guarantor");  // unknown
  ExpectProblem(put("P102", "P101"), 422, "invalid_guarantor");  // a dependent
  ExpectProblem(put("P102", "P102"), 422, "invalid_guarantor");  // themselves
  ExpectProblem(put("P100", "P101"), 422, "invalid_guarantor");  // a guarantor becoming dependent
  ExpectProblem(put("P%201", nullptr), 400, "validation_failed");
  ExpectProblem(
      s.Call("PUT", base + "/patients/P103", staff, json{{"first_name", 5}, {"last_name", "Y"}}),
      400, "validation_failed");
  ExpectProblem(s.Call("PUT", base + "/patients/P103", staff, json{{"last_name", "Y"}}), 400,
                "validation_failed");
  ExpectProblem(
      s.Call("PUT", base + "/patients/P103", staff,
             json{{"first_name", "X"}, {"last_name", "Y"}, {"date_of_birth", "1980-13-01"}}),
      400, "validation_failed");
  ExpectProblem(s.Call("PUT", base + "/patients/P103", auditor,
                       json{{"first_name", "X"}, {"last_name", "Y"}}),
                403, "forbidden");
  BOOST_TEST(LogEnd() == end);
}

BOOST_AUTO_TEST_CASE(charges_idempotent_conflict_and_amounts) {
  Patient("P100", "Jane");
  json c = {{"charge_id", "C1"},
            {"patient_id", "P100"},
            {"amount_cents", 12000},
            {"description", "Exam"},
            {"service_date", "2026-10-01"}};
  auto r = s.Call("POST", base + "/charges", staff, c);
  BOOST_TEST(r.status == 201);
  BOOST_TEST(r.body["charge_id"] == "C1");
  BOOST_TEST(r.body["amount_cents"] == 12000);
  auto end = LogEnd();
  BOOST_TEST(s.Call("POST", base + "/charges", staff, c).status == 200);
  BOOST_TEST(LogEnd() == end);
  json other = c;
  other["amount_cents"] = 13000;
  ExpectProblem(s.Call("POST", base + "/charges", staff, other), 409, "charge_conflict");
  json unknown = c;
  unknown["charge_id"] = "C2";
  unknown["patient_id"] = "P404";
  ExpectProblem(s.Call("POST", base + "/charges", staff, unknown), 404, "patient_not_found");
  for (const char* bad : {"12.5", "\"12\"", "1e3", "-5", "0", "1000.0", "99999999999999999999",
                          "1000000001", "9223372036854775807", "-9223372036854775808"}) {
    std::string body =
        R"({"charge_id":"C3","patient_id":"P100","description":"x","service_date":"2026-10-01","amount_cents":)" +
        std::string(bad) + "}";
    BOOST_TEST_CONTEXT("amount " << bad) {
      ExpectProblem(s.Call("POST", base + "/charges", staff, body), 422, "invalid_amount");
    }
  }
  json missing = c;
  missing.erase("amount_cents");
  missing["charge_id"] = "C4";
  ExpectProblem(s.Call("POST", base + "/charges", staff, missing), 400, "validation_failed");
  json bad_date = c;
  bad_date["charge_id"] = "C5";
  bad_date["service_date"] = "10/01/2026";
  ExpectProblem(s.Call("POST", base + "/charges", staff, bad_date), 400, "validation_failed");
  ExpectProblem(s.Call("POST", base + "/charges", staff, std::string("[1,2]")), 400,
                "validation_failed");
  ExpectProblem(s.Call("POST", base + "/charges", auditor, c), 403, "forbidden");
  BOOST_TEST(LogEnd() == end);
  auto bal = s.Call("GET", base + "/accounts/P100/balance", auditor);
  BOOST_TEST(bal.body["total_balance_cents"] == 12000);  // exactly one charge counted
}

BOOST_AUTO_TEST_CASE(amounts_at_the_cap_add_up_without_overflow) {
  // spec/api.md: at most 1,000,000,000 cents per amount; sums of many are still exact.
  Patient("P100", "Jane");
  for (int i = 0; i < 3; ++i) Charge("MAX" + std::to_string(i), "P100", kAmountCentsMax);
  auto bal = s.Call("GET", base + "/accounts/P100/balance", auditor);
  BOOST_TEST(bal.body["total_balance_cents"] == 3 * kAmountCentsMax);
  BOOST_TEST(bal.body["amount_due_cents"] == 3 * kAmountCentsMax);
}

BOOST_AUTO_TEST_CASE(family_balance_view) {
  Patient("P100", "Jane");
  Patient("P101", "Sam", "P100");
  Patient("P102", "Lily", "P100");
  Charge("C1", "P100", 12000);
  Charge("C2", "P101", 8000);
  Charge("C3", "P102", 4500);
  auto g = s.Call("GET", base + "/accounts/P100/balance", auditor);
  BOOST_TEST(g.status == 200);
  BOOST_TEST(g.body["currency"] == "USD");
  BOOST_TEST(g.body["guarantor_id"] == "P100");
  BOOST_TEST(g.body["members"].size() == 3u);
  BOOST_TEST(g.body["members"][0]["relationship"] == "self");
  BOOST_TEST(g.body["members"][0]["balance_cents"] == 12000);
  BOOST_TEST(g.body["total_balance_cents"] == 24500);
  BOOST_TEST(g.body["amount_due_cents"] == 24500);
  BOOST_TEST(g.body["pending_payments"].empty());
  BOOST_TEST(g.body["payments_enabled"] == false);
  auto d = s.Call("GET", base + "/accounts/P101/balance", auditor);
  BOOST_TEST(d.body["members"].size() == 1u);
  BOOST_TEST(d.body["members"][0]["relationship"] == "dependent");
  BOOST_TEST(d.body["total_balance_cents"] == 8000);
  BOOST_TEST(d.body["guarantor_id"] == "P100");
  ExpectProblem(s.Call("GET", base + "/accounts/P404/balance", auditor), 404, "patient_not_found");
}

BOOST_AUTO_TEST_CASE(balance_as_of_a_past_moment) {
  Patient("P100", "Jane");
  Charge("C1", "P100", 1000);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::string between = FormatTime(NowMicros(), true);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  Charge("C2", "P100", 2000);
  auto then = s.Call("GET", base + "/accounts/P100/balance?as_of=" + between, auditor);
  BOOST_TEST(then.status == 200);
  BOOST_TEST(then.body["total_balance_cents"] == 1000);
  auto now = s.Call("GET", base + "/accounts/P100/balance", auditor);
  BOOST_TEST(now.body["total_balance_cents"] == 3000);
  ExpectProblem(s.Call("GET", base + "/accounts/P100/balance?as_of=2020-01-01T00:00:00Z", auditor),
                404, "patient_not_found");
  ExpectProblem(s.Call("GET", base + "/accounts/P100/balance?as_of=yesterday", auditor), 400,
                "validation_failed");
}

BOOST_AUTO_TEST_CASE(idempotency_key_replays_and_conflicts) {
  Patient("P100", "Jane");
  json c = {{"charge_id", "C9"},
            {"patient_id", "P100"},
            {"amount_cents", 500},
            {"description", "x"},
            {"service_date", "2026-10-01"}};
  auto first = s.Call("POST", base + "/charges", staff, c, {{"Idempotency-Key", "abc"}});
  BOOST_TEST(first.status == 201);
  auto again = s.Call("POST", base + "/charges", staff, c, {{"Idempotency-Key", "abc"}});
  BOOST_TEST(again.status == 201);
  BOOST_TEST(again.headers["idempotent-replayed"] == "true");
  BOOST_TEST(again.raw == first.raw);
  json other = c;
  other["charge_id"] = "C10";
  ExpectProblem(s.Call("POST", base + "/charges", staff, other, {{"Idempotency-Key", "abc"}}), 409,
                "idempotency_conflict");
  ExpectProblem(
      s.Call("POST", base + "/charges", staff, other, {{"Idempotency-Key", std::string(256, 'k')}}),
      400, "validation_failed");
}

BOOST_AUTO_TEST_CASE(transport_errors) {
  ExpectProblem(s.Call("GET", "/api/v1/nothing-here", op), 404, "not_found");
  ExpectProblem(s.Call("GET", "/nowhere"), 404, "not_found");
  std::string big = R"({"charge_id":"C1","description":")" + std::string(70 * 1024, 'a') + "\"}";
  ExpectProblem(s.Call("POST", base + "/charges", staff, big), 413, "payload_too_large");
  ExpectProblem(s.Call("PUT", base + "/patients/P1", "not-a-token", json{{"first_name", "a"}}), 401,
                "unauthorized");
}

// Regression: a path that decoded to invalid UTF-8 answered 500 (the problem document could not
// be encoded) and went raw into the error log, so "%0A" could forge a log line.
BOOST_AUTO_TEST_CASE(invalid_utf8_or_control_bytes_in_a_path_are_400) {
  auto end = LogEnd();
  for (const char* target : {"/x%FF", "/api/v1/practices/acme-dental/settings%C0%AF",
                             "/api/v1/practices/%0Aforged/settings", "/api/v1/whoami%00",
                             "/api/v1/practices/acme-dental/transactions?cursor=%FF",
                             "/api/v1/practices/acme-dental/transactions?%ED%A0%80=1"}) {
    BOOST_TEST_CONTEXT(target) {
      ExpectProblem(s.Call("GET", target, auditor), 400, "validation_failed");
    }
  }
  ExpectProblem(s.Call("POST", "/api/v1/practices/acme-dental/charges%FF", staff, json::object()),
                400, "validation_failed");
  BOOST_TEST(LogEnd() == end);
  // Text that is valid UTF-8 still reaches the router.
  ExpectProblem(s.Call("GET", "/caf%C3%A9", auditor), 404, "not_found");
}

BOOST_AUTO_TEST_CASE(utf8_check_and_log_escaping) {
  BOOST_TEST(IsValidUtf8("plain ascii"));
  BOOST_TEST(IsValidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x92\xb3"));
  for (std::string_view bad : {"\xff", "\xc3", "\xe2\x82", "\xc0\xaf", "\xed\xa0\x80",
                               "\xf4\x90\x80\x80", "\xf0\x9f\x92", "ok\xc3"}) {
    BOOST_TEST_CONTEXT(LogSafe(bad)) { BOOST_TEST(!IsValidUtf8(bad)); }
  }
  BOOST_TEST(LogSafe("GET /a\n[error] forged") == "GET /a\\x0a[error] forged");
  BOOST_TEST(LogSafe("caf\xc3\xa9\\") == "caf\\xc3\\xa9\\x5c");
}

BOOST_AUTO_TEST_CASE(concurrent_writers_read_their_writes) {
  // Every write that answered 2xx is visible to the next read, from any thread.
  for (int p = 0; p < 8; ++p) Patient("P" + std::to_string(p), "Pat");
  std::atomic<int> stale{0}, failed{0};
  std::vector<std::thread> threads;
  for (int p = 0; p < 8; ++p) {
    threads.emplace_back([&, p] {
      std::string patient = "P" + std::to_string(p);
      for (int i = 1; i <= 10; ++i) {
        auto r = s.Call("POST", base + "/charges", staff,
                        json{{"charge_id", patient + "-" + std::to_string(i)},
                             {"patient_id", patient},
                             {"amount_cents", 100},
                             {"service_date", "2026-10-01"}});
        if (r.status != 201) failed++;
        auto b = s.Call("GET", base + "/accounts/" + patient + "/balance", auditor);
        if (b.body["total_balance_cents"] != 100 * i) stale++;
      }
    });
  }
  for (auto& t : threads) t.join();
  BOOST_TEST(failed.load() == 0);
  BOOST_TEST(stale.load() == 0);
}

BOOST_AUTO_TEST_CASE(internal_record_access_takes_only_the_operator_token) {
  // Between processes of a Kafka cluster (docs/kafka.md); on one machine it answers the same.
  const std::string internal = "/internal/v1/practices/acme-dental/record-access";
  json body = {{"actor", "staff:tok_x"}, {"resource", "balance"}, {"patient_id", "P1"}};
  auto end = LogEnd();
  ExpectProblem(s.Call("POST", internal, admin, body), 401, "unauthorized");
  ExpectProblem(s.Call("POST", internal, "", body), 401, "unauthorized");
  ExpectProblem(s.Call("GET", internal, op), 405, "method_not_allowed");
  BOOST_TEST(LogEnd() == end);
  auto r = s.Call("POST", internal, op, body);
  BOOST_TEST(r.status == 204);
  BOOST_TEST(LogEnd() == end + 1);  // one record_accessed event
}

// The route table answers a known path with another method 405 and names the methods it takes;
// a GET route answers HEAD with the GET's headers and length, and no body.
BOOST_AUTO_TEST_CASE(methods_come_from_the_route_table) {
  auto wrong = s.Call("DELETE", "/api/v1/practices/acme-dental/settings", admin);
  ExpectProblem(wrong, 405, "method_not_allowed");
  BOOST_TEST(wrong.headers["allow"] == "GET, PUT");
  auto charges = s.Call("GET", "/api/v1/practices/acme-dental/charges", admin);
  ExpectProblem(charges, 405, "method_not_allowed");
  BOOST_TEST(charges.headers["allow"] == "POST");
  ExpectProblem(s.Call("GET", "/api/v1/practices/acme-dental/nothing-here", admin), 404,
                "not_found");

  auto page = s.Call("GET", "/staff");
  auto head = s.Call("HEAD", "/staff");
  BOOST_TEST(head.status == 200);
  BOOST_TEST(head.raw.empty());
  BOOST_TEST(head.headers["content-length"] == std::to_string(page.raw.size()));
  BOOST_TEST(head.headers["content-type"] == page.headers["content-type"]);
  auto settings = s.Call("HEAD", "/api/v1/practices/acme-dental/settings", admin);
  BOOST_TEST(settings.status == 200);
  BOOST_TEST(settings.raw.empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(state_survives_restart) {
  TempDir dir;
  std::string op, admin;
  {
    TestServer s(dir.path());
    op = s.operator_token();
    BOOST_REQUIRE(s.Call("POST", "/api/v1/practices", op,
                         json{{"practice_id", "keep-me"}, {"name", "K"}, {"currency", "USD"}})
                      .status == 201);
    admin = s.Call("POST", "/api/v1/practices/keep-me/tokens", op, json{{"role", "admin"}})
                .body["token"];
    BOOST_REQUIRE(s.Call("PUT", "/api/v1/practices/keep-me/patients/P1", admin,
                         json{{"first_name", "A"}, {"last_name", "B"}})
                      .status == 201);
    BOOST_REQUIRE(s.Call("POST", "/api/v1/practices/keep-me/charges", admin,
                         json{{"charge_id", "C1"},
                              {"patient_id", "P1"},
                              {"amount_cents", 4200},
                              {"service_date", "2026-01-02"}})
                      .status == 201);
  }
  TestServer s(dir.path());
  BOOST_TEST(s.operator_token() == op);
  BOOST_TEST(s.Call("GET", "/api/v1/practices/keep-me/accounts/P1/balance", admin)
                 .body["total_balance_cents"] == 4200);
  // The engine's state came back too: the same charge is a replay, another body a conflict.
  BOOST_TEST(s.Call("POST", "/api/v1/practices/keep-me/charges", admin,
                    json{{"charge_id", "C1"},
                         {"patient_id", "P1"},
                         {"amount_cents", 4200},
                         {"service_date", "2026-01-02"}})
                 .status == 200);
  BOOST_TEST(s.Call("POST", "/api/v1/practices/keep-me/charges", admin,
                    json{{"charge_id", "C1"},
                         {"patient_id", "P1"},
                         {"amount_cents", 1},
                         {"service_date", "2026-01-02"}})
                 .status == 409);
  BOOST_TEST(s.Call("POST", "/api/v1/practices", op,
                    json{{"practice_id", "keep-me"}, {"name", "K"}, {"currency", "USD"}})
                 .status == 409);
}

// Regression: a log written before amounts were capped held two charges of 2^63-1 cents; their
// sum wrapped (undefined behaviour, and a sanitizer abort at every start). Such a log must still
// start and fold, with balances that saturate instead of wrapping.
BOOST_AUTO_TEST_CASE(a_log_with_amounts_near_2_63_still_starts) {
  TempDir dir;
  {
    auto log = RocksEventLog::Open(dir.path() + "/log");
    BOOST_REQUIRE(log.ok());
    Hash256 prev{};
    std::vector<LogRecord> records;
    std::vector<Payload> payloads = {
        PracticeRegistered{"Old", "USD"},
        PatientUpserted{"P1", "A", "B", "", "", "", ""},
        ChargePosted{"C1", "P1", INT64_MAX, "x", "2026-01-01"},
        ChargePosted{"C2", "P1", INT64_MAX, "x", "2026-01-02"},
    };
    for (size_t i = 0; i < payloads.size(); ++i) {
      Event e;
      e.practice_id = "old-practice";
      e.command_key = "k" + std::to_string(i);
      e.event_id = DeriveEventId(e.practice_id, e.command_key, 0);
      e.occurred_at_us = 1780000000000000 + static_cast<int64_t>(i);
      e.payload = payloads[i];
      records.push_back(LogRecord{e.practice_id, Seal(&e, prev)});
      prev = e.hash;
    }
    BOOST_REQUIRE((*log)->Append(std::move(records)).ok());
  }
  TestServer s(dir.path());
  std::string admin = s.Call("POST", "/api/v1/practices/old-practice/tokens", s.operator_token(),
                             json{{"role", "admin"}})
                          .body["token"];
  auto bal = s.Call("GET", "/api/v1/practices/old-practice/accounts/P1/balance", admin);
  BOOST_TEST(bal.status == 200);
  BOOST_TEST(bal.body["total_balance_cents"] == INT64_MAX);
  // New commands still decide: a further charge is refused on its amount, a valid one lands.
  ExpectProblem(s.Call("POST", "/api/v1/practices/old-practice/charges", admin,
                       json{{"charge_id", "C3"},
                            {"patient_id", "P1"},
                            {"amount_cents", INT64_MAX},
                            {"service_date", "2026-01-03"}}),
                422, "invalid_amount");
  BOOST_TEST(s.Call("POST", "/api/v1/practices/old-practice/charges", admin,
                    json{{"charge_id", "C4"},
                         {"patient_id", "P1"},
                         {"amount_cents", 100},
                         {"service_date", "2026-01-03"}})
                 .status == 201);
}

// The views are the second record of how far the log got: a log replaced by an older copy
// whose high-water mark went with it is still refused, because the views applied more.
BOOST_AUTO_TEST_CASE(a_log_behind_its_views_is_refused) {
  TempDir dir;
  const std::string log_dir = dir.path() + "/log", old = dir.path() + "/old";
  std::string op;
  {
    TestServer s(dir.path());
    op = s.operator_token();
    BOOST_REQUIRE(s.Call("POST", "/api/v1/practices", op,
                         json{{"practice_id", "lost-log"}, {"name", "L"}, {"currency", "USD"}})
                      .status == 201);
  }
  std::filesystem::copy(log_dir, old, std::filesystem::copy_options::recursive);
  {
    TestServer s(dir.path());
    BOOST_REQUIRE(
        s.Call("POST", "/api/v1/practices/lost-log/tokens", op, json{{"role", "admin"}}).status ==
        201);
  }
  std::filesystem::remove_all(log_dir);
  std::filesystem::rename(old, log_dir);
  std::filesystem::remove(log_dir + ".end");
  AppOptions o;
  o.data_dir = dir.path();
  auto app = App::Open(o);
  BOOST_REQUIRE(!app.ok());
  BOOST_TEST(app.status().IsCorruption());
  BOOST_TEST(app.status().message().find("acknowledged events are missing from the log") !=
                 std::string::npos,
             app.status().message());
}
