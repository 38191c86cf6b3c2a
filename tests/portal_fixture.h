// The portal tests' practice: payments on, the Doe family (Jane guarantees Sam and Lily), their
// charges, and the steps of enrolment, sign-in and paying through the HTTP contract.
#pragma once

#include <atomic>
#include <boost/test/unit_test.hpp>

#include "test_util.h"

namespace remit::testing {

using nlohmann::json;

constexpr const char* kPassword = "Tr0ub4dor&3-horse";

inline void ExpectProblem(const TestServer::Reply& r, int status, const std::string& code) {
  BOOST_TEST(r.status == status);
  BOOST_TEST(r.body.value("code", "") == code);
  BOOST_TEST(r.headers.at("content-type") == "application/problem+json");
}

// A practice with payments on, the Doe family (Jane guarantees Sam and Lily) and charges.
struct Practice {
  TempDir dir;
  TestServer s;
  std::string admin;
  const std::string pid = "smile-dental";
  const std::string staff_base = "/api/v1/practices/smile-dental";
  const std::string portal = "/api/v1/portal/smile-dental";
  std::atomic<int64_t> clock_offset_us{0};

  explicit Practice(HttpServerOptions http = {}) : s(dir.path(), std::move(http)) {
    s.node().portal->SetClockForTesting([this] { return NowMicros() + clock_offset_us.load(); });
    BOOST_REQUIRE(s.Call("POST", "/api/v1/practices", s.operator_token(),
                         json{{"practice_id", pid}, {"name", "Smile Dental"}, {"currency", "USD"}})
                      .status == 201);
    admin = s.Call("POST", staff_base + "/tokens", s.operator_token(), json{{"role", "admin"}})
                .body["token"];
    Settings(true, false);
    Patient("P100", "Jane", "Doe", nullptr);
    Patient("P101", "Sam", "Doe", "P100");
    Patient("P102", "Lily", "Doe", "P100");
    Charge("C1", "P100", 12000, "2026-08-14");
    Charge("C2", "P101", 8000, "2026-09-02");
    Charge("C3", "P100", 5000, "2026-10-01");
  }
  void Settings(bool payments, bool auto_post) {
    BOOST_REQUIRE(
        s.Call("PUT", staff_base + "/settings", admin,
               json{{"portal_payments_enabled", payments}, {"auto_post_to_ledger", auto_post}})
            .status == 200);
  }
  void Patient(const std::string& id, const std::string& first, const std::string& last,
               const json& g) {
    auto r = s.Call("PUT", staff_base + "/patients/" + id, admin,
                    json{{"first_name", first},
                         {"last_name", last},
                         {"phone", "(555) 010-2030"},
                         {"email", first + ".doe@example.com"},
                         {"date_of_birth", "1985-04-12"},
                         {"guarantor_id", g}});
    BOOST_REQUIRE(r.status == 201 || r.status == 200);
  }
  void Charge(const std::string& id, const std::string& patient, int64_t cents,
              const std::string& date) {
    BOOST_REQUIRE(s.Call("POST", staff_base + "/charges", admin,
                         json{{"charge_id", id},
                              {"patient_id", patient},
                              {"amount_cents", cents},
                              {"description", "Treatment"},
                              {"service_date", date}})
                      .status == 201);
  }
  std::string Invite(const std::string& patient) {
    auto r = s.Call("POST", staff_base + "/patients/" + patient + "/portal-invites", admin,
                    std::string());
    BOOST_REQUIRE_EQUAL(r.status, 201);
    BOOST_TEST(r.body["url"].get<std::string>().find("/portal/smile-dental/enroll?code=") !=
               std::string::npos);
    return r.body["invite_code"];
  }
  TestServer::Reply Enroll(const std::string& code, const std::string& user,
                           const std::string& pw = kPassword) {
    return s.Call("POST", portal + "/enroll", "",
                  json{{"invite_code", code}, {"username", user}, {"password", pw}});
  }
  void Enrolled(const std::string& patient, const std::string& user) {
    auto r = Enroll(Invite(patient), user);
    BOOST_REQUIRE_EQUAL(r.status, 201);
    auto secret = s.node().portal->TotpSecretForTesting(pid, user);
    BOOST_REQUIRE(secret.ok());
    BOOST_TEST(r.body["totp_secret_base32"] == Base32(*secret));
    BOOST_TEST(r.body["otpauth_uri"].get<std::string>().starts_with("otpauth://totp/"));
  }
  int64_t NowS() { return (NowMicros() + clock_offset_us.load()) / 1000000; }
  std::string Code(const std::string& user, int64_t step_offset = 0) {
    return TotpCode(*s.node().portal->TotpSecretForTesting(pid, user), NowS() + 30 * step_offset);
  }
  std::string Identity(const std::string& user, const std::string& method = "phone",
                       const std::string& value = "555.010.2030") {
    auto r = s.Call("POST", portal + "/identity-check", "",
                    json{{"username", user}, {"method", method}, {"value", value}});
    BOOST_REQUIRE_EQUAL(r.status, 200);
    return r.body["identity_token"];
  }
  std::string Challenge(const std::string& user, const std::string& pw = kPassword) {
    auto r = s.Call("POST", portal + "/login", "",
                    json{{"identity_token", Identity(user)}, {"username", user}, {"password", pw}});
    BOOST_REQUIRE_EQUAL(r.status, 200);
    BOOST_TEST(r.body["factor"] == "totp");
    return r.body["challenge_token"];
  }
  std::string SignIn(const std::string& user, int64_t step_offset = 0) {
    auto r = s.Call("POST", portal + "/login/verify", "",
                    json{{"challenge_token", Challenge(user)}, {"code", Code(user, step_offset)}});
    BOOST_REQUIRE_EQUAL(r.status, 200);
    BOOST_TEST(r.body["expires_at"].is_string());
    return r.body["session_token"];
  }
  std::string NewCard(const std::string& number = "4242424242424242") {
    auto r =
        s.Call("POST", "/sandbox-gateway/v1/tokens", "",
               json{{"number", number}, {"exp_month", 12}, {"exp_year", 2030}, {"cvc", "123"}});
    BOOST_REQUIRE_EQUAL(r.status, 201);
    return r.body["card_token"];
  }
  TestServer::Reply Pay(const std::string& session, const json& body, const std::string& key) {
    return s.Call("POST", portal + "/me/payments", session, body, {{"Idempotency-Key", key}});
  }
  json Balances(const std::string& session) {
    auto r = s.Call("GET", portal + "/me/balances", session);
    BOOST_REQUIRE_EQUAL(r.status, 200);
    return r.body;
  }
  json StaffBalance(const std::string& patient) {
    return s.Call("GET", staff_base + "/accounts/" + patient + "/balance", admin).body;
  }
  uint64_t LogEnd() { return s.app().log().EndOffset(); }
};

// Every event of the practice's log, decoded.
inline std::vector<Event> Events(TestServer& s) {
  std::vector<LogEntry> entries;
  BOOST_REQUIRE(s.app().log().Read(0, 1000000, &entries).ok());
  std::vector<Event> out;
  for (const auto& e : entries) {
    auto ev = DecodeRecord(e.record);
    BOOST_REQUIRE(ev.ok());
    out.push_back(std::move(ev.value()));
  }
  return out;
}

// How many events of type T the practice's log holds.
template <typename T>
int Count(TestServer& s) {
  int n = 0;
  for (const auto& e : Events(s)) n += std::holds_alternative<T>(e.payload) ? 1 : 0;
  return n;
}

}  // namespace remit::testing
