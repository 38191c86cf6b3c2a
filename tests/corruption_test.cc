// A damaged disk never loses data silently. A data directory is built by the real `remit serve`
// (the demo, card payments, enrolment, idempotent requests), its stores flushed to table files
// and written to again, then killed with SIGKILL so every store has both table files and a
// write-ahead log. For every file of it and several byte positions, a copy with that one byte
// flipped is served again. Each try must end in one of three ways:
//   - `remit serve` refuses to start, naming the damaged directory;
//   - it starts and the background storage check stops writes (/healthz 503, writes 503
//     read_only);
//   - it starts, healthy, holding every acknowledged event (the same offsets and hashes) and the
//     same balances.
// And `remit audit verify` exits non-zero exactly when the server refused or stopped writes.
#define BOOST_TEST_MODULE corruption
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rocksdb/db.h>
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <thread>

#include "test_util.h"

using namespace remit;
using nlohmann::json;
using remit::testing::FreePort;
using remit::testing::RunCommand;
using remit::testing::TempDir;
namespace fs = std::filesystem;

namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

struct Reply {
  int status = 0;
  json body;
  std::string raw;
};

void FlipByte(const std::string& path, size_t pos) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(pos));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x20);
  f.seekp(static_cast<std::streamoff>(pos));
  f.write(&c, 1);
}

// `remit serve` as a child; Start waits until it is ready or has exited.
struct Serve {
  pid_t pid = -1;
  int port = 0;
  std::string out_path;
  bool Start(const std::string& data, const std::string& extra = "") {
    port = FreePort();
    out_path = data + ".out";
    fs::remove(out_path);  // never read an earlier start's output as this one's
    pid = fork();
    if (pid == 0) {
      std::string cmd = std::string(REMIT_BINARY) + " serve --data " + data +
                        " --listen 127.0.0.1:" + std::to_string(port) + " " + extra + " > " +
                        out_path + " 2>&1";
      execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 800; ++i) {
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        return false;
      }
      if (Slurp(out_path).find("remit is ready") != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    BOOST_FAIL("remit serve neither started nor exited: " + Slurp(out_path));
    return false;
  }
  void Stop(int sig = SIGTERM) {
    if (pid <= 0) return;
    kill(pid, sig);
    int status = 0;
    waitpid(pid, &status, 0);
    pid = -1;
  }
  ~Serve() { Stop(SIGKILL); }
  Reply Call(const std::string& method, const std::string& target, const std::string& token,
             const json& body = nullptr, std::map<std::string, std::string> headers = {}) {
    if (!token.empty()) headers["Authorization"] = "Bearer " + token;
    auto r =
        HttpCall("127.0.0.1", port, method, target, body.is_null() ? "" : body.dump(), headers);
    if (!r.ok()) return {0, json(), r.status().ToString()};
    return {r->status, json::parse(r->body, nullptr, false), r->body};
  }
};

// Opens a store with RocksDB itself and flushes its memtables into table files, so the copy
// under test has tables as well as a write-ahead log.
void Flush(const std::string& dir) {
  std::vector<std::string> names;
  BOOST_REQUIRE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const auto& n : names) families.push_back({n, rocksdb::ColumnFamilyOptions()});
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  BOOST_REQUIRE(rocksdb::DB::Open(rocksdb::DBOptions(), dir, families, &handles, &raw).ok());
  BOOST_REQUIRE(raw->Flush(rocksdb::FlushOptions(), handles).ok());
  for (auto* h : handles) BOOST_REQUIRE(raw->DestroyColumnFamilyHandle(h).ok());
  BOOST_REQUIRE(raw->Close().ok());
  delete raw;
}

struct Acknowledged {
  std::string admin;
  json events;   // every event of the demo practice, as GET /events answered
  json balance;  // the demo family's view
};

const std::string kBase = "/api/v1/practices/demo-dental";

json AllEvents(Serve& s, const std::string& token) {
  json all = json::array();
  std::string after;
  for (int page = 0; page < 100; ++page) {
    auto r = s.Call("GET", kBase + "/events?limit=500" + after, token);
    if (r.status != 200) return json();
    for (auto& e : r.body["items"]) all.push_back({{"offset", e["offset"]}, {"hash", e["hash"]}});
    if (r.body["next_after"].is_null() || r.body["items"].empty()) break;
    after = "&after=" + r.body["next_after"].dump();
  }
  return all;
}

// Writes acknowledged through the API: charges (one replayed by its idempotency key), a
// patient, a token, settings, card tokenization and a portal-independent read.
void Writes(Serve& s, const std::string& admin, int round) {
  for (int i = 0; i < 5; ++i) {
    std::string id = "R" + std::to_string(round) + "C" + std::to_string(i);
    auto r = s.Call("POST", kBase + "/charges", admin,
                    json{{"charge_id", id},
                         {"patient_id", "P100"},
                         {"amount_cents", 1000 + i},
                         {"description", "Cleaning"},
                         {"service_date", "2026-11-0" + std::to_string(1 + i)}},
                    {{"Idempotency-Key", "key-" + id}});
    BOOST_REQUIRE_MESSAGE(r.status == 201, r.status << " " << r.raw << " port " << s.port << ": "
                                                    << Slurp(s.out_path));
  }
  auto t = s.Call(
      "POST", "/sandbox-gateway/v1/tokens", "",
      json{{"number", "4242424242424242"}, {"exp_month", 12}, {"exp_year", 2031}, {"cvc", "123"}});
  BOOST_REQUIRE_EQUAL(t.status, 201);
  auto p = s.Call("PUT", kBase + "/patients/N" + std::to_string(round), admin,
                  json{{"first_name", "New"}, {"last_name", "Patient"}, {"phone", "555-0199"}});
  BOOST_REQUIRE_EQUAL(p.status, 201);
  auto inv =
      s.Call("POST", kBase + "/patients/N" + std::to_string(round) + "/portal-invites", admin);
  BOOST_REQUIRE_EQUAL(inv.status, 201);
  auto e = s.Call("POST", "/api/v1/portal/demo-dental/enroll", "",
                  json{{"invite_code", inv.body["invite_code"]},
                       {"username", "newpatient" + std::to_string(round)},
                       {"password", "a long passphrase " + std::to_string(round)}});
  BOOST_REQUIRE_EQUAL(e.status, 201);
}

// The positions of `size` bytes to flip: the first, the last and a few between.
std::vector<size_t> Positions(size_t size) {
#ifdef REMIT_SANITIZE_BUILD
  const size_t between = 1;
#else
  const size_t between = 3;
#endif
  std::vector<size_t> out = {0};
  for (size_t k = 1; k <= between; ++k) out.push_back(size * k / (between + 1));
  out.push_back(size - 1);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_flipped_byte_anywhere_is_refused_stops_writes_or_changes_nothing) {
  TempDir tmp;
  const std::string pristine = tmp.path() + "/pristine";
  Acknowledged ack;
  {
    Serve s;
    BOOST_REQUIRE(s.Start(pristine, "--demo"));
    std::string out = Slurp(s.out_path);
    auto at = out.find("staff admin token: ");
    BOOST_REQUIRE(at != std::string::npos);
    ack.admin = out.substr(at + 19, out.find('\n', at) - at - 19);
    Writes(s, ack.admin, 1);
    s.Stop(SIGTERM);
  }
  for (const char* store : {"log", "views", "idempotency", "secrets", "sandbox-gateway"}) {
    Flush(pristine + "/" + store);
  }
  {
    Serve s;
    BOOST_REQUIRE(s.Start(pristine));
    Writes(s, ack.admin, 2);
    ack.events = AllEvents(s, ack.admin);
    ack.balance = s.Call("GET", kBase + "/accounts/P100/balance", ack.admin).body;
    s.Stop(SIGKILL);  // the write-ahead logs keep what the tables do not
  }
  BOOST_REQUIRE(ack.events.size() > 20);
  fs::remove(pristine + "/server.json");

  std::vector<std::string> files;
  for (const auto& f : fs::recursive_directory_iterator(pristine)) {
    if (f.is_regular_file() && f.file_size() > 0)
      files.push_back(fs::relative(f.path(), pristine).string());
  }
  std::sort(files.begin(), files.end());
  int tries = 0, refused = 0, stopped = 0, intact = 0;
  for (const auto& file : files) {
    size_t size = fs::file_size(pristine + "/" + file);
    for (size_t pos : Positions(size)) {
      BOOST_TEST_CONTEXT(file << " byte " << pos << " of " << size) {
        const std::string trial = tmp.path() + "/trial";
        fs::remove_all(trial);
        fs::copy(pristine, trial, fs::copy_options::recursive);
        FlipByte(trial + "/" + file, pos);
        ++tries;
        bool damaged = false;
        {
          Serve s;
          if (!s.Start(trial)) {
            ++refused;
            damaged = true;
            std::string out = Slurp(s.out_path);
            BOOST_TEST(out.find(trial) != std::string::npos,
                       "the refusal does not name the directory: " << out);
          } else {
            Reply h;
            for (int i = 0; i < 400; ++i) {
              h = s.Call("GET", "/healthz", "");
              if (h.status == 503 || (h.status == 200 && !h.body["storage_checked_at"].is_null()))
                break;
              std::this_thread::sleep_for(std::chrono::milliseconds(25));
            }
            if (h.status == 503) {
              ++stopped;
              damaged = true;
              BOOST_TEST(h.body["status"] == "read_only");
              auto w = s.Call("POST", kBase + "/charges", ack.admin,
                              json{{"charge_id", "AFTER"},
                                   {"patient_id", "P100"},
                                   {"amount_cents", 5},
                                   {"service_date", "2026-11-20"}});
              BOOST_TEST(w.status == 503);
              BOOST_TEST(w.body.value("code", "") == "read_only");
            } else {
              ++intact;
              BOOST_REQUIRE_EQUAL(h.status, 200);
              // Every acknowledged event at its offset with its hash (reads append their own
              // record_accessed events after them).
              json now = AllEvents(s, ack.admin);
              BOOST_REQUIRE(now.is_array() && now.size() >= ack.events.size());
              now.erase(now.begin() + static_cast<std::ptrdiff_t>(ack.events.size()), now.end());
              BOOST_TEST(now == ack.events);
              BOOST_TEST(s.Call("GET", kBase + "/accounts/P100/balance", ack.admin).body ==
                         ack.balance);
            }
            s.Stop(SIGTERM);
          }
        }
        // The copy as it was before it was served (serving an intact one writes to it).
        fs::remove_all(trial);
        fs::copy(pristine, trial, fs::copy_options::recursive);
        FlipByte(trial + "/" + file, pos);
        std::string verify;
        int code = RunCommand(std::string(REMIT_BINARY) + " audit verify --data " + trial + " 2>&1",
                              &verify);
        if (damaged)
          BOOST_TEST(code != 0, "audit verify passed a directory the server refused: " << verify);
      }
    }
  }
  BOOST_TEST_MESSAGE("corruption: " << tries << " positions in " << files.size()
                                    << " files: " << refused << " refused, " << stopped
                                    << " stopped writes, " << intact << " intact");
  std::printf("corruption: %d positions in %zu files: %d refused, %d stopped writes, %d intact\n",
              tries, files.size(), refused, stopped, intact);
  BOOST_TEST(refused > 0);
  BOOST_TEST(tries > 50);
}
