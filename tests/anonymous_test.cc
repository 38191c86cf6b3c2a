// The anonymous portal steps under load and attack (docs/security.md, "Anonymous requests"):
// the identity token before any password, bounded password hashing, rate limits per client
// address and per username that write nothing when they refuse, and room for a front-desk
// kiosk; and the rate limiter itself.
#define BOOST_TEST_MODULE anonymous
#include <boost/test/unit_test.hpp>
#include <set>
#include <thread>

#include "adapters/app/rate_limit.h"
#include "portal_fixture.h"
#include "test_util.h"

using namespace remit;
using nlohmann::json;
using remit::testing::Count;
using remit::testing::Events;
using remit::testing::ExpectProblem;
using remit::testing::kPassword;
using remit::testing::Practice;
using remit::testing::TestServer;

namespace {

// The practice behind a trusted proxy on 127.0.0.1, so that a test can speak from many client
// addresses (X-Forwarded-For).
HttpServerOptions BehindProxy() {
  HttpServerOptions o;
  o.trusted_proxies = {*Cidr::Parse("127.0.0.1")};
  return o;
}
struct ProxiedPractice : Practice {
  ProxiedPractice() : Practice(BehindProxy()) {}
  TestServer::Reply From(const std::string& address, const std::string& path, const json& body) {
    return s.Call("POST", portal + path, "", body, {{"X-Forwarded-For", address}});
  }
  double Metric(const std::string& name) {
    std::string text = s.Call("GET", "/metrics").raw;
    auto at = text.find("\n" + name + " ");
    BOOST_REQUIRE(at != std::string::npos);
    return std::stod(text.substr(at + name.size() + 2));
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(anonymous, ProxiedPractice)

// 7. /login looks at no password without a valid identity token for the username: no hash is
// computed, so a known username costs and tells what an unknown one does.
BOOST_AUTO_TEST_CASE(login_checks_the_identity_token_before_any_password) {
  Enrolled("P100", "jane");
  Enrolled("P101", "sam");
  double before = Metric("remit_password_hashes");
  for (const char* user : {"jane", "nobody"}) {
    auto r = From("203.0.113.1", "/login",
                  json{{"identity_token", "forged"}, {"username", user}, {"password", kPassword}});
    ExpectProblem(r, 401, "identity_not_verified");
  }
  // Another username's identity token does not open jane's password either.
  auto r = From(
      "203.0.113.1", "/login",
      json{{"identity_token", Identity("sam")}, {"username", "jane"}, {"password", kPassword}});
  ExpectProblem(r, 401, "identity_not_verified");
  BOOST_TEST(Metric("remit_password_hashes") == before);
  Challenge("jane");  // with its own token: one hash
  BOOST_TEST(Metric("remit_password_hashes") == before + 1);
}

// 7. Password hashing is bounded: 32 sign-ins at once never run more than Portal::kHashingMax
// hashes together; each is answered, 200 or 503 with Retry-After.
BOOST_AUTO_TEST_CASE(concurrent_password_hashing_is_bounded) {
  Enrolled("P100", "jane");
  std::vector<std::string> tokens;
  for (int i = 0; i < 8; ++i) tokens.push_back(Identity("jane"));
  std::vector<std::thread> threads;
  std::atomic<int> ok{0}, busy{0}, other{0};
  for (int i = 0; i < 32; ++i) {
    threads.emplace_back([&, i] {
      auto r = From("198.51.100." + std::to_string(i + 1), "/login",
                    json{{"identity_token", tokens[i % tokens.size()]},
                         {"username", "jane"},
                         {"password", kPassword}});
      if (r.status == 200) {
        ok++;
      } else if (r.status == 503 && r.headers.contains("retry-after")) {
        busy++;
      } else {
        other++;
      }
    });
  }
  for (auto& t : threads) t.join();
  BOOST_TEST_MESSAGE("32 logins: " << ok << " signed in, " << busy << " told to retry");
  BOOST_TEST(ok + busy == 32);
  BOOST_TEST(other == 0);
  BOOST_TEST(ok >= 1);
  BOOST_TEST(Metric("remit_password_hashes_peak") <= static_cast<double>(Portal::kHashingMax));
}

// 7. One address is rate-limited before anything is written; another address is not affected.
BOOST_AUTO_TEST_CASE(a_flood_from_one_address_writes_nothing_and_costs_others_nothing) {
  Enrolled("P100", "jane");
  json check = {{"username", "jane"}, {"method", "initials"}, {"value", "JD"}};
  int limited = 0;
  uint64_t end_at_limit = 0;
  for (int i = 0; i < 300 && limited < 20; ++i) {
    // Many usernames, so the per-username limit is not what stops it.
    json c = {{"username", "user" + std::to_string(i)}, {"method", "initials"}, {"value", "XY"}};
    auto r = From("203.0.113.9", "/identity-check", c);
    if (r.status == 429) {
      BOOST_TEST(r.body["code"] == "rate_limited");
      BOOST_TEST(std::stoi(r.headers.at("retry-after")) >= 1);
      if (limited++ == 0) end_at_limit = LogEnd();
    }
  }
  BOOST_REQUIRE(limited == 20);
  BOOST_TEST(LogEnd() == end_at_limit);  // the refused ones wrote nothing
  // Not even 30 failures were written: each spends the address's failure allowance.
  BOOST_TEST(Count<IdentityFailed>(s) <= 31);
  auto other = From("198.51.100.7", "/identity-check", check);
  BOOST_TEST(other.status == 200);
}

// 7. One address cannot lock out many usernames: its failures run out after a few lockouts.
BOOST_AUTO_TEST_CASE(one_address_cannot_lock_out_many_usernames) {
  std::vector<std::string> users;
  for (int i = 0; i < 10; ++i) {
    std::string id = "V" + std::to_string(i);
    Patient(id, "Vic" + std::to_string(i), "Tim", nullptr);
    users.push_back("vic" + std::to_string(i));
    BOOST_REQUIRE_EQUAL(Enroll(Invite(id), users.back()).status, 201);
  }
  int limited = 0;
  for (const auto& u : users) {
    for (int k = 0; k < 5; ++k) {
      auto r = From("203.0.113.66", "/identity-check",
                    json{{"username", u}, {"method", "initials"}, {"value", "ZZ"}});
      if (r.status == 429 && r.body["code"] == "rate_limited") ++limited;
    }
  }
  BOOST_TEST(limited > 0);
  BOOST_TEST(Count<LockedOut>(s) <= 6);
  // The contract's own lockout is still what a patient meets: 5 failures from their address.
  for (int k = 0; k < 5; ++k) {
    From("198.51.100.5", "/identity-check",
         json{{"username", "vic9"}, {"method", "initials"}, {"value", "ZZ"}});
  }
  ExpectProblem(From("198.51.100.5", "/identity-check",
                     json{{"username", "vic9"}, {"method", "initials"}, {"value", "VT"}}),
                429, "locked_out");
}

// 7. A front desk where every patient signs in from one address keeps at least 100 sign-in
// steps a minute.
BOOST_AUTO_TEST_CASE(a_front_desk_kiosk_keeps_a_hundred_steps_a_minute) {
  const std::string kiosk = "192.0.2.10";
  int steps = 0;
  for (int i = 0; i < 25; ++i) {
    std::string id = "K" + std::to_string(i), user = "kiosk" + std::to_string(i);
    Patient(id, "Kim" + std::to_string(i), "Lee", nullptr);
    auto e = From(kiosk, "/enroll",
                  json{{"invite_code", Invite(id)}, {"username", user}, {"password", kPassword}});
    BOOST_REQUIRE_EQUAL(e.status, 201);
    auto idc = From(kiosk, "/identity-check",
                    json{{"username", user}, {"method", "initials"}, {"value", "KL"}});
    BOOST_REQUIRE_EQUAL(idc.status, 200);
    auto ch = From(kiosk, "/login",
                   json{{"identity_token", idc.body["identity_token"]},
                        {"username", user},
                        {"password", kPassword}});
    BOOST_REQUIRE_EQUAL(ch.status, 200);
    auto v = From(kiosk, "/login/verify",
                  json{{"challenge_token", ch.body["challenge_token"]}, {"code", Code(user)}});
    BOOST_REQUIRE_EQUAL(v.status, 200);
    steps += 4;
  }
  BOOST_TEST(steps == 100);
}

BOOST_AUTO_TEST_SUITE_END()

// The buckets themselves: a burst, then one token per refill; memory bounded by keys_max.
BOOST_AUTO_TEST_CASE(rate_limiter_refills_and_stays_bounded) {
  int64_t now = 1'000'000'000;
  RateLimiter r(3, std::chrono::seconds(10), 100, [&] { return now; });
  int retry = 0;
  for (int i = 0; i < 3; ++i) BOOST_TEST(r.Take("a"));
  BOOST_TEST(!r.Take("a", &retry));
  BOOST_TEST(retry == 10);
  now += 5'000'000;
  BOOST_TEST(!r.Take("a", &retry));
  BOOST_TEST(retry == 5);
  now += 5'000'000;
  BOOST_TEST(r.Take("a"));
  r.Charge("b");  // a failure counted after the fact
  r.Charge("b");
  r.Charge("b");
  BOOST_TEST(!r.Has("b"));
  for (int i = 0; i < 1000; ++i) r.Take("k" + std::to_string(i));
  BOOST_TEST(r.keys() <= 100u);
}

// 5. Idempotency records kept by a remit older than secret withholding hold the secret they
// handed out: the first start rewrites them without it, the disk keeps no copy, and a replay
// still answers (without the secret).
