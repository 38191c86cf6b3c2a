// Several `remit serve` processes on one Kafka cluster (librdkafka's mock, started in this
// test): patients pay through every process while one process is killed with SIGKILL (its
// practices move to the others) or the brokers fail (one down and back, produce errors, slow
// brokers); afterwards every acknowledged payment is in the log exactly once, every chain
// verifies, balances are what the payments left, and every process's views equal a rebuild
// from its log and each other's.
#define BOOST_TEST_MODULE cluster
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "adapters/crypto/secrets.h"
#include "adapters/http/http_client.h"
#include "kafka_util.h"
#include "test_util.h"

using namespace remit;
using nlohmann::json;
using remit::testing::Cluster;
using remit::testing::TempDir;

namespace {

constexpr const char* kPassword = "Tr0ub4dor&3-horse";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Base32Decode(const std::string& s) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : s) {
    int v = c >= 'A' && c <= 'Z' ? c - 'A' : c >= '2' && c <= '7' ? c - '2' + 26 : -1;
    if (v < 0) continue;
    buffer = (buffer << 5) | static_cast<uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      out.push_back(static_cast<char>((buffer >> (bits - 8)) & 0xff));
      bits -= 8;
    }
  }
  return out;
}

// One `remit serve` child on the cluster.
struct Process {
  pid_t pid = -1;
  int port = 0;
  std::string data;
  bool alive = false;
};

class Deployment {
 public:
  explicit Deployment(int processes) {
    prefix_ = "cluster" + std::to_string(getpid()) + "-" + std::to_string(++count_);
    BOOST_REQUIRE(Cluster().CreateTopic(prefix_ + ".events", 12).ok());
    for (const char* t : {".owners", ".secrets", ".sandbox-gateway", ".idempotency"}) {
      BOOST_REQUIRE(Cluster().CreateTopic(prefix_ + t, 1).ok());
    }
    for (int i = 0; i < processes; ++i) Start();
    operator_token_ = ReadAll(dir_.path() + "/operator-token");
    while (!operator_token_.empty() && operator_token_.back() == '\n') operator_token_.pop_back();
  }
  ~Deployment() {
    for (auto& p : procs_) {
      if (p.alive) {
        kill(p.pid, SIGTERM);
        waitpid(p.pid, nullptr, 0);
      }
    }
  }

  void Start() {
    Process p;
    p.data = dir_.path() + "/node" + std::to_string(procs_.size());
    std::string out = p.data + ".out";
    p.pid = fork();
    BOOST_REQUIRE(p.pid >= 0);
    if (p.pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test, even when it crashes
      std::string cmd = "exec " + std::string(REMIT_BINARY) + " serve --data " + p.data +
                        " --listen 127.0.0.1:0 --kafka-brokers " + Cluster().bootstrap_servers() +
                        // As behind a load balancer: a public name the processes cannot resolve.
                        // Forwarding between them must use each one's advertised (listen) URL.
                        " --public-url http://portal.test:8080" + " --kafka-topics " + prefix_ +
                        " --kafka-group " + prefix_ + " --operator-token-file " + dir_.path() +
                        "/operator-token" + " --secrets-key " + dir_.path() + "/secrets.key > " +
                        out + " 2>&1";
      execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    std::string text;
    while (text.find("remit is ready") == std::string::npos) {
      BOOST_REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline, "no start:\n" << text);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      text = ReadAll(out);
    }
    auto at = text.find("serving on http://127.0.0.1:");
    BOOST_REQUIRE(at != std::string::npos);
    p.port = std::atoi(text.c_str() + at + std::strlen("serving on http://127.0.0.1:"));
    p.alive = true;
    procs_.push_back(p);
  }

  // SIGTERM; the exit status (0 after a clean stop).
  int Stop(size_t i) {
    kill(procs_[i].pid, SIGTERM);
    int status = 0;
    waitpid(procs_[i].pid, &status, 0);
    procs_[i].alive = false;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  void Kill(size_t i) {
    kill(procs_[i].pid, SIGKILL);
    waitpid(procs_[i].pid, nullptr, 0);
    procs_[i].alive = false;
  }

  struct Reply {
    int status = 0;  // 0: the process did not answer
    json body;
  };
  Reply Call(size_t i, const std::string& method, const std::string& target,
             const std::string& token = {}, const json& body = nullptr,
             std::map<std::string, std::string> headers = {}) {
    if (!token.empty()) headers["Authorization"] = "Bearer " + token;
    auto r = HttpCall("127.0.0.1", procs_[i].port, method, target,
                      body.is_null() ? std::string() : body.dump(), headers);
    if (!r.ok()) return Reply{};
    return Reply{r->status, json::parse(r->body, nullptr, false)};
  }

  size_t size() const { return procs_.size(); }
  bool alive(size_t i) const { return procs_[i].alive; }
  const Process& proc(size_t i) const { return procs_[i]; }
  const std::string& operator_token() const { return operator_token_; }

 private:
  static inline int count_ = 0;
  TempDir dir_;
  std::string prefix_;
  std::vector<Process> procs_;
  std::string operator_token_;
};

struct PracticeSetup {
  std::string id;
  std::string admin;
  std::string session;
  int64_t charged_cents = 0;
};

// A practice with payments on and automatic posting, one patient with a large charge, signed
// in to the portal; each step through a different process.
PracticeSetup Prepare(Deployment& d, const std::string& id, size_t first) {
  PracticeSetup p;
  p.id = id;
  std::string base = "/api/v1/practices/" + id, portal = "/api/v1/portal/" + id;
  auto via = [&](size_t k) { return (first + k) % d.size(); };
  BOOST_REQUIRE_EQUAL(d.Call(via(0), "POST", "/api/v1/practices", d.operator_token(),
                             json{{"practice_id", id}, {"name", id}, {"currency", "USD"}})
                          .status,
                      201);
  auto tok = d.Call(via(1), "POST", base + "/tokens", d.operator_token(), json{{"role", "admin"}});
  BOOST_REQUIRE_EQUAL(tok.status, 201);
  p.admin = tok.body["token"];
  BOOST_REQUIRE_EQUAL(d.Call(via(2), "PUT", base + "/settings", p.admin,
                             json{{"portal_payments_enabled", true}, {"auto_post_to_ledger", true}})
                          .status,
                      200);
  BOOST_REQUIRE_EQUAL(d.Call(via(0), "PUT", base + "/patients/P1", p.admin,
                             json{{"first_name", "Jane"},
                                  {"last_name", "Doe"},
                                  {"phone", "(555) 010-2030"},
                                  {"date_of_birth", "1985-04-12"}})
                          .status,
                      201);
  p.charged_cents = 10000000;
  BOOST_REQUIRE_EQUAL(d.Call(via(1), "POST", base + "/charges", p.admin,
                             json{{"charge_id", "C1"},
                                  {"patient_id", "P1"},
                                  {"amount_cents", p.charged_cents},
                                  {"service_date", "2026-09-01"}})
                          .status,
                      201);
  auto invite = d.Call(via(2), "POST", base + "/patients/P1/portal-invites", p.admin);
  BOOST_REQUIRE_EQUAL(invite.status, 201);
  auto enrolled = d.Call(via(0), "POST", portal + "/enroll", "",
                         json{{"invite_code", invite.body["invite_code"]},
                              {"username", "jane"},
                              {"password", kPassword}});
  BOOST_REQUIRE_EQUAL(enrolled.status, 201);
  std::string secret = Base32Decode(enrolled.body["totp_secret_base32"]);
  auto identity =
      d.Call(via(1), "POST", portal + "/identity-check", "",
             json{{"username", "jane"}, {"method", "phone"}, {"value", "555.010.2030"}});
  BOOST_REQUIRE_EQUAL(identity.status, 200);
  auto login = d.Call(via(2), "POST", portal + "/login", "",
                      json{{"identity_token", identity.body["identity_token"]},
                           {"username", "jane"},
                           {"password", kPassword}});
  BOOST_REQUIRE_EQUAL(login.status, 200);
  auto verified = d.Call(via(0), "POST", portal + "/login/verify", "",
                         json{{"challenge_token", login.body["challenge_token"]},
                              {"code", TotpCode(secret, NowMicros() / 1000000)}});
  BOOST_REQUIRE_EQUAL(verified.status, 200);
  p.session = verified.body["session_token"];
  return p;
}

// Runs the whole scenario on `processes` processes; `mid_load` runs after client 0's sixth
// payment, with the other clients' payments in flight (it may kill a process).
void Scenario(int processes, const std::function<void(Deployment&)>& mid_load) {
  Deployment d(processes);
  std::vector<PracticeSetup> practices;
  for (int i = 0; i < 6; ++i) {
    practices.push_back(Prepare(d, "practice-" + std::to_string(i), static_cast<size_t>(i)));
  }

  // Payments through every process from several clients. A client whose process does not
  // answer retries the same request (same Idempotency-Key) through another process, as a
  // browser behind a load balancer would.
  std::mutex mu;
  std::map<std::string, std::set<std::string>> acked;  // practice -> payment ids
  std::map<std::string, int64_t> paid;                 // practice -> cents acknowledged
  std::atomic<int> retries{0};
  std::atomic<bool> faulted{false};
  std::vector<std::string> failures;  // Boost.Test checks stay on the main thread
  auto fail = [&](const std::string& what) {
    std::lock_guard<std::mutex> l(mu);
    failures.push_back(what);
  };
  auto client = [&](int c) {
    for (int k = 0; k < 12; ++k) {
      const auto& p = practices[static_cast<size_t>((c + k) % 6)];
      std::string key = "pay-" + std::to_string(c) + "-" + std::to_string(k);
      int64_t amount = 100 + c * 10 + k;
      // The card is tokenized once; every retry sends the identical request.
      json card;
      for (size_t attempt = 0; card.is_null() && attempt < 20; ++attempt) {
        size_t via = (static_cast<size_t>(c + k) + attempt) % d.size();
        if (!d.alive(via)) continue;
        auto t = d.Call(via, "POST", "/sandbox-gateway/v1/tokens", "",
                        json{{"number", "4242424242424242"},
                             {"exp_month", 12},
                             {"exp_year", 2030},
                             {"cvc", "123"}});
        if (t.status == 201) card = t.body["card_token"];
      }
      if (card.is_null()) {
        fail(key + ": no card token");
        continue;
      }
      for (size_t attempt = 0; attempt < 20; ++attempt) {
        size_t via = (static_cast<size_t>(c + k) + attempt) % d.size();
        if (!d.alive(via)) continue;
        auto r = d.Call(via, "POST", "/api/v1/portal/" + p.id + "/me/payments", p.session,
                        json{{"amount_cents", amount}, {"card_token", card}},
                        {{"Idempotency-Key", key}});
        if (r.status == 201) {
          if (r.body["status"] != "succeeded") fail(key + ": " + r.body.dump());
          std::lock_guard<std::mutex> l(mu);
          if (!acked[p.id].insert(r.body["payment_id"].get<std::string>()).second) {
            failures.push_back(key + ": one key, two payments");
          }
          paid[p.id] += amount;
          break;
        }
        // 0 (the process died) or 503 (a practice between writers): try again elsewhere.
        if (r.status != 0 && r.status != 503) {
          fail(key + ": " + std::to_string(r.status) + " " + r.body.dump());
          break;
        }
        retries++;
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
      }
      if (k == 5 && c == 0) {
        mid_load(d);
        faulted = true;
      }
    }
  };
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c) clients.emplace_back(client, c);
  for (auto& t : clients) t.join();
  BOOST_TEST_MESSAGE("payments done at " << FormatTime(NowMicros(), true));
  for (const auto& f : failures) BOOST_ERROR(f);
  if (!failures.empty()) {
    // What the processes' Kafka stores said, for the diagnosis.
    for (size_t i = 0; i < d.size(); ++i) {
      std::istringstream lines(ReadAll(d.proc(i).data + ".out"));
      for (std::string line; std::getline(lines, line);) {
        if (line.find("Kafka store") != std::string::npos)
          std::fprintf(stderr, "node%zu: %s\n", i, line.c_str());
      }
    }
  }
  BOOST_REQUIRE(failures.empty());
  BOOST_REQUIRE(faulted.load());  // the fault happened mid-load
  size_t total = 0;
  for (const auto& [id, ids] : acked) total += ids.size();
  BOOST_TEST_MESSAGE(processes << " processes: " << total << " payments acknowledged, "
                               << retries.load() << " retries");
  BOOST_TEST(total == 48u);  // every client request was acknowledged in the end

  // Let every survivor take in the whole log.
  std::vector<size_t> survivors;
  for (size_t i = 0; i < d.size(); ++i) {
    if (d.alive(i)) survivors.push_back(i);
  }
  // The survivors write for every partition between them (a dead process's have moved).
  int owned = 0;
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
       owned != 12 && std::chrono::steady_clock::now() < until;) {
    owned = 0;
    for (size_t i : survivors) {
      auto m = HttpCall("127.0.0.1", d.proc(i).port, "GET", "/metrics");
      if (!m.ok()) continue;
      auto at = m->body.find("\nremit_kafka_owned_partitions ");
      if (at != std::string::npos) owned += std::atoi(m->body.c_str() + at + 30);
    }
    if (owned != 12) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  BOOST_TEST(owned == 12);
  BOOST_TEST_MESSAGE("partitions owned at " << FormatTime(NowMicros(), true));
  for (const auto& p : practices) {
    for (size_t i : survivors) {
      // A write through each survivor: its answer comes once that survivor's views hold it.
      auto r = d.Call(i, "PUT", "/api/v1/practices/" + p.id + "/settings", p.admin,
                      json{{"portal_payments_enabled", true}, {"auto_post_to_ledger", true}});
      BOOST_REQUIRE_EQUAL(r.status, 200);
    }
  }
  BOOST_TEST_MESSAGE("survivors caught up at " << FormatTime(NowMicros(), true));
  for (const auto& p : practices) {
    std::optional<json> first_balance;
    for (size_t i : survivors) {
      // Every acknowledged payment exactly once: one payment_succeeded and one posting each.
      std::map<std::string, int> succeeded, posted;
      for (json after = nullptr;;) {
        auto ev = d.Call(i, "GET",
                         "/api/v1/practices/" + p.id + "/events?limit=500" +
                             (after.is_null() ? "" : "&after=" + after.dump()),
                         p.admin);
        BOOST_REQUIRE_EQUAL(ev.status, 200);
        for (const auto& e : ev.body["items"]) {
          std::string type = e.value("type", "");
          if (type == "payment_succeeded") succeeded[e["payload"]["payment_id"]]++;
          if (type == "payment_posted") posted[e["payload"]["payment_id"]]++;
        }
        after = ev.body["next_after"];
        if (after.is_null()) break;
      }
      for (const auto& id : acked[p.id]) {
        BOOST_TEST(succeeded[id] == 1,
                   p.id << " " << id << " succeeded " << succeeded[id] << " times");
        BOOST_TEST(posted[id] == 1, p.id << " " << id << " posted " << posted[id] << " times");
      }
      BOOST_TEST(succeeded.size() == acked[p.id].size());
      auto verify = d.Call(i, "GET", "/api/v1/practices/" + p.id + "/audit/verify", p.admin);
      BOOST_REQUIRE_EQUAL(verify.status, 200);
      BOOST_TEST(verify.body["chain_ok"] == true);
      auto bal = d.Call(i, "GET", "/api/v1/practices/" + p.id + "/accounts/P1/balance", p.admin);
      BOOST_REQUIRE_EQUAL(bal.status, 200);
      BOOST_TEST(bal.body["total_balance_cents"].get<int64_t>() == p.charged_cents - paid[p.id]);
      if (!first_balance) first_balance = bal.body;
      BOOST_TEST((bal.body == *first_balance));  // every process answers the same
    }
  }
  // Every survivor's views equal a rebuild from its own log, and each other's.
  TempDir rebuilt;
  for (size_t i : survivors) {
    std::string out = rebuilt.path() + "/r" + std::to_string(i);
    std::string cmd = std::string(REMIT_BINARY) + " replay --data " + d.proc(i).data + " --out " +
                      out + " > /dev/null 2>&1 && " + REMIT_BINARY + " replay --compare " +
                      d.proc(i).data + " " + out + " > " + out + ".cmp 2>&1";
    BOOST_TEST(std::system(cmd.c_str()) == 0, ReadAll(out + ".cmp"));
  }
  std::string cmd = std::string(REMIT_BINARY) + " replay --compare " + d.proc(survivors[0]).data +
                    " " + d.proc(survivors.back()).data + " > " + rebuilt.path() +
                    "/cross.cmp 2>&1";
  BOOST_TEST(std::system(cmd.c_str()) == 0, ReadAll(rebuilt.path() + "/cross.cmp"));
  // A process leaves the group cleanly when asked to stop.
  BOOST_TEST(d.Stop(survivors[0]) == 0);
}

}  // namespace

BOOST_AUTO_TEST_CASE(two_processes_one_killed_mid_load) {
  Scenario(2, [](Deployment& d) { d.Kill(1); });
}

BOOST_AUTO_TEST_CASE(three_processes_one_killed_mid_load) {
  Scenario(3, [](Deployment& d) { d.Kill(2); });
}

BOOST_AUTO_TEST_CASE(three_processes_through_broker_faults) {
  Scenario(3, [](Deployment&) {
    // A broker down and back, produce errors, then slow brokers, all mid-load.
    BOOST_REQUIRE(Cluster().SetBrokerDown(1).ok());
    std::this_thread::sleep_for(std::chrono::seconds(2));
    BOOST_REQUIRE(Cluster().SetBrokerUp(1).ok());
    Cluster().PushProduceErrors(10, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
    BOOST_REQUIRE(Cluster().SetBrokerRtt(-1, 100).ok());
    std::this_thread::sleep_for(std::chrono::seconds(2));
    BOOST_REQUIRE(Cluster().SetBrokerRtt(-1, 0).ok());
  });
}
