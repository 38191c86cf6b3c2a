// The `remit` binary as an operator runs it: serve with --demo, the operator token file,
// token create against a running server and against a stopped one, SIGTERM.
#define BOOST_TEST_MODULE cli
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <utility>

#include <boost/asio.hpp>
#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <liboath/oath.h>

#include "adapters/crypto/secrets.h"
#include "test_util.h"

using namespace remit;
using nlohmann::json;
using remit::testing::FreePort;
using remit::testing::RunCommand;
using remit::testing::TempDir;

namespace {

struct Server {
  pid_t pid = -1;
  std::string out_path;
  Server(const std::string& data, int port, const std::string& extra) {
    out_path = data + ".out";
    pid = fork();
    if (pid == 0) {
      std::string cmd = std::string(REMIT_BINARY) + " serve --data " + data +
                        " --listen 127.0.0.1:" + std::to_string(port) + " " + extra + " > " +
                        out_path + " 2>&1";
      execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 600; ++i) {
      if (Output().find("remit is ready") != std::string::npos) {
        auto r = HttpCall("127.0.0.1", port, "GET", "/healthz");
        if (r.ok() && r->status == 200) return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    BOOST_FAIL("remit serve did not come up");
  }
  int Stop() {
    kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
    pid = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  std::string Output() {
    std::ifstream in(out_path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  ~Server() {
    if (pid > 0) Stop();
  }
};

std::string LastLine(const std::string& s) {
  auto t = s;
  while (!t.empty() && t.back() == '\n') t.pop_back();
  auto nl = t.rfind('\n');
  return nl == std::string::npos ? t : t.substr(nl + 1);
}

}  // namespace

BOOST_AUTO_TEST_CASE(serve_demo_token_create_and_sigterm) {
  TempDir dir;
  std::string data = dir.path() + "/data";
  int port = FreePort();
  std::string admin;
  {
    Server s(data, port, "--demo");
    std::string out = s.Output();
    BOOST_TEST(out.find("operator token") != std::string::npos);
    BOOST_TEST(out.find("/portal/demo-dental") != std::string::npos);
    BOOST_TEST(out.find("/staff") != std::string::npos);
    auto at = out.find("staff admin token: ");
    BOOST_REQUIRE(at != std::string::npos);
    admin = out.substr(at + 19, out.find('\n', at) - at - 19);

    struct stat st {};
    BOOST_REQUIRE(stat((data + "/operator-token").c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 0777) == 0600u);

    auto bal =
        HttpCall("127.0.0.1", port, "GET", "/api/v1/practices/demo-dental/accounts/P100/balance",
                 "", {{"Authorization", "Bearer " + admin}});
    BOOST_REQUIRE(bal.ok());
    BOOST_TEST(bal->status == 200);
    auto j = json::parse(bal->body);
    BOOST_TEST(j["members"].size() == 3u);
    BOOST_TEST(j["total_balance_cents"] == 46000);

    // The demo patient signs in with what was printed, computing the code as an
    // authenticator app would from the printed secret.
    auto field = [&](const std::string& label) {
      auto a = out.find(label);
      BOOST_REQUIRE(a != std::string::npos);
      a += label.size();
      return out.substr(a, out.find_first_of(",\n", a) - a);
    };
    std::string username = field("username "), password = field("password ");
    std::string secret32 = field("authenticator secret ");
    char* raw = nullptr;
    size_t raw_len = 0;
    BOOST_REQUIRE(oath_base32_decode(secret32.data(), secret32.size(), &raw, &raw_len) == OATH_OK);
    std::string secret(raw, raw_len);
    free(raw);
    const std::string portal = "/api/v1/portal/demo-dental";
    auto id =
        HttpCall("127.0.0.1", port, "POST", portal + "/identity-check",
                 json{{"username", username}, {"method", "phone"}, {"value", "5550102030"}}.dump());
    BOOST_REQUIRE(id.ok());
    BOOST_REQUIRE_EQUAL(id->status, 200);
    auto login = HttpCall("127.0.0.1", port, "POST", portal + "/login",
                          json{{"identity_token", json::parse(id->body)["identity_token"]},
                               {"username", username},
                               {"password", password}}
                              .dump());
    BOOST_REQUIRE_EQUAL(login->status, 200);
    auto verify = HttpCall("127.0.0.1", port, "POST", portal + "/login/verify",
                           json{{"challenge_token", json::parse(login->body)["challenge_token"]},
                                {"code", TotpCode(secret, NowMicros() / 1000000)}}
                               .dump());
    BOOST_REQUIRE_EQUAL(verify->status, 200);
    auto mine =
        HttpCall("127.0.0.1", port, "GET", portal + "/me/balances", "",
                 {{"Authorization",
                   "Bearer " + json::parse(verify->body)["session_token"].get<std::string>()}});
    BOOST_TEST(json::parse(mine->body)["amount_due_cents"] == 46000);
    std::string session = json::parse(verify->body)["session_token"];
    auto card = HttpCall(
        "127.0.0.1", port, "POST", "/sandbox-gateway/v1/tokens",
        json{{"number", "5555555555554444"}, {"exp_month", 3}, {"exp_year", 2032}, {"cvc", "8642"}}
            .dump());
    BOOST_REQUIRE_EQUAL(card->status, 201);
    auto paid = HttpCall(
        "127.0.0.1", port, "POST", portal + "/me/payments",
        json{{"amount_cents", 1234}, {"card_token", json::parse(card->body)["card_token"]}}.dump(),
        {{"Authorization", "Bearer " + session}, {"Idempotency-Key", "cli-pay"}});
    BOOST_TEST(paid->status == 201);
    // The server's own output never shows a card number or a session token.
    std::string log = s.Output();
    for (const std::string& secret_text : {std::string("5555555555554444"), session}) {
      BOOST_TEST(log.find(secret_text) == std::string::npos);
    }

    // token create talks to the running server; its last line is the token.
    std::string tout;
    BOOST_TEST(RunCommand(std::string(REMIT_BINARY) + " token create --data " + data +
                              " --practice demo-dental --role auditor",
                          &tout) == 0);
    std::string token = LastLine(tout);
    auto who = HttpCall("127.0.0.1", port, "GET", "/api/v1/whoami", "",
                        {{"Authorization", "Bearer " + token}});
    BOOST_REQUIRE(who.ok());
    BOOST_TEST(json::parse(who->body)["role"] == "auditor");
    BOOST_TEST(s.Stop() == 0);
    BOOST_TEST(s.Output().find("remit stopped") != std::string::npos);
  }
  // With the server stopped, token create opens the data directory itself.
  std::string tout;
  BOOST_TEST(RunCommand(std::string(REMIT_BINARY) + " token create --data " + data +
                            " --practice demo-dental --role staff",
                        &tout) == 0);
  std::string offline = LastLine(tout);
  std::string bad;
  BOOST_TEST(RunCommand(std::string(REMIT_BINARY) + " token create --data " + data +
                            " --practice no-such-practice --role staff 2>/dev/null",
                        &bad) != 0);
  {
    // A second start: the demo is not loaded again, the same operator token is kept, and both
    // tokens still work.
    Server s(data, port, "--demo");
    BOOST_TEST(s.Output().find("operator token") == std::string::npos);
    for (const auto& t : {admin, offline}) {
      auto who = HttpCall("127.0.0.1", port, "GET", "/api/v1/whoami", "",
                          {{"Authorization", "Bearer " + t}});
      BOOST_REQUIRE(who.ok());
      BOOST_TEST(who->status == 200);
    }
    auto bal =
        HttpCall("127.0.0.1", port, "GET", "/api/v1/practices/demo-dental/accounts/P100/balance",
                 "", {{"Authorization", "Bearer " + admin}});
    BOOST_TEST(json::parse(bal->body)["total_balance_cents"] == 46000);  // demo loaded once
  }
}

// The data directory holds patients' names, phones and dates of birth: everything in it is the
// owner's alone (0700/0600), also when it was made readable by others (a plain mkdir), which is
// tightened with a warning.
BOOST_AUTO_TEST_CASE(the_data_directory_is_private) {
  TempDir dir;
  std::string data = dir.path() + "/data";
  std::filesystem::create_directories(data + "/old");
  std::filesystem::permissions(data, std::filesystem::perms(0755));
  std::filesystem::permissions(data + "/old", std::filesystem::perms(0755));
  { std::ofstream(data + "/old/notes.txt") << "front desk notes"; }
  std::filesystem::permissions(data + "/old/notes.txt", std::filesystem::perms(0644));
  int port = FreePort();
  Server server(data, port, "--demo");
  BOOST_TEST(server.Output().find("could be read by other users") != std::string::npos,
             server.Output());
  BOOST_TEST(server.Stop() == 0);
  size_t dirs = 0, files = 0;
  auto mode = [](const std::filesystem::path& p) {
    return static_cast<unsigned>(std::filesystem::symlink_status(p).permissions()) & 0777;
  };
  BOOST_TEST(mode(data) == 0700u);
  for (const auto& e : std::filesystem::recursive_directory_iterator(data)) {
    if (e.is_symlink()) continue;
    if (e.is_directory()) {
      ++dirs;
      BOOST_TEST(mode(e.path()) == 0700u, e.path());
    } else {
      ++files;
      BOOST_TEST(mode(e.path()) == 0600u, e.path());
    }
  }
  BOOST_TEST(dirs >= 5u);
  BOOST_TEST(files >= 20u);
}

// A data directory others can read that cannot be made private is refused, naming it, before
// anything is written: here one on a file system mounted read-only, in a mount namespace of the
// test's own (unshare), so the machine's mounts are untouched.
BOOST_AUTO_TEST_CASE(a_data_directory_that_cannot_be_made_private_is_refused) {
  TempDir dir;
  std::string mnt = dir.path() + "/mnt", probe;
  std::filesystem::create_directories(mnt);
  if (RunCommand("unshare -m true 2>&1", &probe) != 0) {
    BOOST_TEST_MESSAGE("no mount namespace here (" << probe << "): not checked");
    return;
  }
  std::string got;
  int rc = RunCommand("unshare -m sh -c 'mount -t tmpfs tmpfs " + mnt + " && mkdir -p " + mnt +
                          "/data/old && chmod 755 " + mnt + "/data && mount -o remount,ro " + mnt +
                          " && exec " + REMIT_BINARY + " serve --data " + mnt +
                          "/data --listen 127.0.0.1:0' 2>&1",
                      &got);
  BOOST_TEST(rc == 1, got);
  BOOST_TEST(got.find("cannot make " + mnt + "/data private (mode 755)") != std::string::npos, got);
}

// `remit serve --tls-cert --tls-key` serves HTTPS (tls_test checks the protocol); one without
// the other, or with Kafka, is refused.
BOOST_AUTO_TEST_CASE(serve_over_tls) {
  TempDir dir;
  std::string out;
  BOOST_REQUIRE_MESSAGE(
      RunCommand("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -keyout " +
                     dir.path() + "/key.pem -out " + dir.path() + "/cert.pem 2>&1",
                 &out) == 0,
      out);
  std::string remit = REMIT_BINARY, data = dir.path() + "/data";
  std::string got;
  BOOST_TEST(
      RunCommand(remit + " serve --data " + data + " --tls-cert " + dir.path() + "/cert.pem 2>&1",
                 &got) == 2);
  BOOST_TEST(got.find("go together") != std::string::npos, got);
  got.clear();
  BOOST_TEST(RunCommand(remit + " serve --data " + data + " --tls-cert " + dir.path() +
                            "/cert.pem --tls-key " + dir.path() +
                            "/key.pem --kafka-brokers 127.0.0.1:1 2>&1",
                        &got) == 2);
  BOOST_TEST(got.find("not built for Kafka mode") != std::string::npos, got);

  int port = FreePort();
  std::string log = dir.path() + "/serve.out";
  pid_t pid = fork();
  if (pid == 0) {
    std::string cmd = "exec " + remit + " serve --data " + data +
                      " --listen 127.0.0.1:" + std::to_string(port) + " --tls-cert " + dir.path() +
                      "/cert.pem --tls-key " + dir.path() + "/key.pem > " + log + " 2>&1";
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  std::string text;
  for (int i = 0; i < 200 && text.find("remit is ready") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::ifstream in(log);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  BOOST_TEST(text.find("remit is serving on https://127.0.0.1:" + std::to_string(port)) !=
                 std::string::npos,
             text);
  // Plain HTTP gets no answer from it.
  auto plain = HttpCall("127.0.0.1", port, "GET", "/healthz", "", {}, std::chrono::seconds(3));
  BOOST_TEST(!(plain.ok() && plain->status == 200));
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0));
}

BOOST_AUTO_TEST_CASE(shared_operator_token_file) {
  TempDir dir;
  std::string file = dir.path() + "/shared-operator-token";
  int port = FreePort();
  Server a(dir.path() + "/a", port, "--operator-token-file " + file);
  std::ifstream in(file);
  std::string token;
  std::getline(in, token);
  BOOST_TEST(token.size() >= 32u);
  auto who = HttpCall("127.0.0.1", port, "GET", "/api/v1/whoami", "",
                      {{"Authorization", "Bearer " + token}});
  BOOST_REQUIRE(who.ok());
  BOOST_TEST(json::parse(who->body)["kind"] == "operator");
  BOOST_TEST(a.Stop() == 0);
  Server b(dir.path() + "/b", port, "--operator-token-file " + file);
  auto again = HttpCall("127.0.0.1", port, "GET", "/api/v1/whoami", "",
                        {{"Authorization", "Bearer " + token}});
  BOOST_TEST(json::parse(again->body)["kind"] == "operator");
}

// Regression: one thread per connection and a per-read timeout let idle and never-reading
// clients hold threads, and block SIGTERM. Now SIGTERM ends the server within 5 s whatever its
// clients do.
BOOST_AUTO_TEST_CASE(sigterm_ends_the_server_within_5_s_while_clients_hold_connections) {
  TempDir dir;
  int port = FreePort();
  Server s(dir.path() + "/d", port, "");
  boost::asio::io_context ioc;
  std::vector<std::unique_ptr<boost::asio::ip::tcp::socket>> held;
  boost::asio::ip::tcp::endpoint ep(boost::asio::ip::make_address("127.0.0.1"),
                                    static_cast<unsigned short>(port));
  for (int i = 0; i < 200; ++i) {
    auto c = std::make_unique<boost::asio::ip::tcp::socket>(ioc);
    boost::system::error_code ec;
    c->connect(ep, ec);
    if (i % 2 == 0)
      boost::asio::write(*c, boost::asio::buffer(std::string("GET /heal")), ec);  // half a request
    if (i == 199) {
      // A client that asks for much and reads nothing.
      std::string many;
      for (int k = 0; k < 500; ++k) many += "GET /openapi.yaml HTTP/1.1\r\nHost: x\r\n\r\n";
      boost::asio::write(*c, boost::asio::buffer(many), ec);
    }
    held.push_back(std::move(c));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto t0 = std::chrono::steady_clock::now();
  BOOST_TEST(s.Stop() == 0);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  BOOST_TEST_MESSAGE("SIGTERM to exit: " << secs << " s");
  BOOST_TEST(secs < 5.0);
}

// remit backup while the server takes writes, then remit restore: the restored directory
// serves exactly what was acknowledged before the backup, and verifies.
BOOST_AUTO_TEST_CASE(backup_while_serving_and_restore) {
  TempDir dir;
  const std::string data = dir.path() + "/d", backup = dir.path() + "/b",
                    restored = dir.path() + "/r";
  const std::string remit = REMIT_BINARY;
  const std::string base = "/api/v1/practices/demo-dental";
  int port = FreePort();
  std::string admin;
  auto charge = [&](int p, const std::string& id) {
    return HttpCall("127.0.0.1", p, "POST", base + "/charges",
                    json{{"charge_id", id},
                         {"patient_id", "P100"},
                         {"amount_cents", 700},
                         {"service_date", "2026-11-02"}}
                        .dump(),
                    {{"Authorization", "Bearer " + admin}});
  };
  auto balance = [&](int p) {
    auto r = HttpCall("127.0.0.1", p, "GET", base + "/accounts/P100/balance", "",
                      {{"Authorization", "Bearer " + admin}});
    return r.ok() ? json::parse(r->body)["total_balance_cents"].get<int64_t>() : -1;
  };
  int64_t at_backup = 0;
  {
    Server s(data, port, "--demo");
    std::string out = s.Output();
    auto at = out.find("staff admin token: ");
    BOOST_REQUIRE(at != std::string::npos);
    admin = out.substr(at + 19, out.find('\n', at) - at - 19);
    BOOST_REQUIRE_EQUAL(charge(port, "B1")->status, 201);
    // Writes keep coming while the backup is taken.
    std::atomic<bool> done{false};
    std::thread writer([&] {
      for (int i = 0; i < 200 && !done; ++i) {
        auto r = charge(port, "W" + std::to_string(i));
        if (!r.ok() || r->status != 201) break;
      }
    });
    std::string got;
    int code = RunCommand(remit + " backup --data " + data + " --to " + backup + " 2>&1", &got);
    done = true;
    writer.join();
    BOOST_TEST(code == 0, got);
    BOOST_TEST(got.find("backup of the running server") != std::string::npos, got);
    BOOST_REQUIRE_EQUAL(charge(port, "AFTER")->status, 201);
    // A second backup never writes over the first.
    std::string again;
    BOOST_TEST(RunCommand(remit + " backup --data " + data + " --to " + backup + " 2>&1", &again) ==
               1);
    at_backup = balance(port) - 700;  // everything but AFTER
    BOOST_TEST(s.Stop() == 0);
  }
  std::string got;
  BOOST_TEST(RunCommand(remit + " audit verify --data " + backup + " 2>&1", &got) == 0, got);
  got.clear();
  BOOST_TEST(
      RunCommand(remit + " restore --from " + backup + " --data " + restored + " 2>&1", &got) == 0,
      got);
  got.clear();
  BOOST_TEST(
      RunCommand(remit + " restore --from " + backup + " --data " + restored + " 2>&1", &got) == 1,
      got);
  {
    Server s(restored, port, "");
    // The restored directory holds the backup's point: AFTER is not in it; the token works.
    int64_t restored_balance = balance(port);
    BOOST_TEST(restored_balance <= at_backup);
    BOOST_TEST(restored_balance >= at_backup - 200 * 700);
    auto after = charge(port, "AFTER");
    BOOST_TEST(after->status == 201);  // not there yet: taken as new
    auto b1 = charge(port, "B1");
    BOOST_TEST(b1->status == 200);  // there before the backup: a replay
  }
  // A stopped directory is backed up directly.
  std::string stopped;
  BOOST_TEST(RunCommand(remit + " backup --data " + data + " --to " + dir.path() + "/b2 2>&1",
                        &stopped) == 0,
             stopped);
  BOOST_TEST(stopped.find("backup in ") != std::string::npos, stopped);
}

BOOST_AUTO_TEST_CASE(bad_flags_exit_non_zero) {
  std::string out;
  BOOST_TEST(RunCommand(std::string(REMIT_BINARY) + " serve 2>/dev/null", &out) != 0);
  BOOST_TEST(RunCommand(std::string(REMIT_BINARY) + " nonsense 2>/dev/null", &out) != 0);
}

// Regression: `remit serve --bogus-flag x` started as if nothing were wrong, so a mistyped
// `--kafka-broker` silently ran on the embedded log. Every command refuses an unknown flag, a
// missing or bad value and a stray word with exit status 2, writes nothing, and names the flag.
BOOST_AUTO_TEST_CASE(unknown_flags_and_bad_values_are_refused_with_status_2) {
  TempDir dir;
  const std::string data = dir.path() + "/d";
  const std::string remit = REMIT_BINARY;
  struct Case {
    std::string args, says;
  };
  std::vector<Case> cases = {
      {"serve --data " + data + " --listen 127.0.0.1:1 --bogus-flag x",
       "unknown flag --bogus-flag"},
      {"serve --data " + data + " --listen 127.0.0.1:1 --kafka-broker 127.0.0.1:9092",
       "unknown flag --kafka-broker"},
      {"serve --data " + data + " --listen", "--listen needs a value"},
      {"serve --data " + data + " --demo=yes", "--demo takes no value"},
      {"serve --data " + data + " --data " + data, "--data is given twice"},
      {"serve --data " + data + " --storage-check-s 0", "--storage-check-s takes a whole number"},
      {"serve --data " + data + " stray", "unexpected argument 'stray'"},
      {"token create --data " + data + " --practice p --role admin --rol staff",
       "unknown flag --rol"},
      {"audit verify --data " + data + " --practise p", "unknown flag --practise"},
      {"kafka-dev --brokers 12", "--brokers takes a whole number from 1 to 9"},
      {"bench log --events lots", "--events takes a whole number"},
      {"replay --data " + data + " --out " + data + "2 --to-offset -1",
       "--to-offset takes a whole number"},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.args) {
      std::string got;
      BOOST_TEST(RunCommand(remit + " " + c.args + " 2>&1", &got) == 2);
      BOOST_TEST(got.find(c.says) != std::string::npos, got);
      BOOST_TEST(got.find("usage: remit") != std::string::npos, got);
    }
  }
  BOOST_TEST(!std::filesystem::exists(data), "a refused command created the data directory");
  // Help names every flag of every command.
  std::string help;
  BOOST_TEST(RunCommand(remit + " help", &help) == 0);
  for (const char* c :
       {"serve", "token create", "audit verify", "audit export", "replay", "bench", "kafka-dev"}) {
    BOOST_TEST(help.find(c) != std::string::npos, c);
  }
  std::string serve_help;
  BOOST_TEST(RunCommand(remit + " serve --help", &serve_help) == 0);
  for (const char* f :
       {"--data", "--listen", "--public-url", "--demo", "--operator-token-file", "--secrets-key",
        "--read-only", "--storage-check-s", "--kafka-brokers", "--kafka-topics", "--kafka-group"}) {
    BOOST_TEST(serve_help.find(f) != std::string::npos, f);
  }
  std::string same;
  BOOST_TEST(RunCommand(remit + " help audit verify", &same) == 0);
  BOOST_TEST(same.find("--secrets-key") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(kafka_dev_prints_a_bootstrap_address_that_answers) {
  TempDir dir;
  std::string out_path = dir.path() + "/kafka-dev.out";
  pid_t pid = fork();
  if (pid == 0) {
    std::string cmd = "exec " + std::string(REMIT_BINARY) + " kafka-dev > " + out_path + " 2>&1";
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  std::string last;
  for (int i = 0; i < 200 && last.find(':') == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::ifstream in(out_path);
    std::string all((std::istreambuf_iterator<char>(in)), {});
    if (all.find("bootstrap servers:\n") != std::string::npos && all.back() == '\n')
      last = LastLine(all);
  }
  BOOST_REQUIRE_MESSAGE(last.find(':') != std::string::npos, "no bootstrap address printed");
  // Three brokers, each listening.
  int brokers = 0;
  std::stringstream list(last);
  std::string broker;
  while (std::getline(list, broker, ',')) {
    auto c = broker.rfind(':');
    BOOST_REQUIRE(c != std::string::npos);
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::socket sock(ioc);
    boost::system::error_code ec;
    sock.connect({boost::asio::ip::make_address(broker.substr(0, c)),
                  static_cast<unsigned short>(std::stoi(broker.substr(c + 1)))},
                 ec);
    BOOST_TEST(!ec, broker << ": " << ec.message());
    ++brokers;
  }
  BOOST_TEST(brokers == 3);
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  BOOST_TEST(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 0);
}
