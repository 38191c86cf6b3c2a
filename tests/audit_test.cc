// Auditors: tamper detection (a flipped byte, a deleted event, two events swapped) names the
// first bad offset through the API and the command line; a server refuses a corrupt log;
// GET /events pages a practice's events in order with hashes that chain; a replay equals the
// live views, and a replay cut at a moment equals the `as_of` answer for that moment.
#define BOOST_TEST_MODULE audit
#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <thread>

#include "adapters/storage/audit.h"
#include "adapters/storage/rocks_event_log.h"
#include "test_util.h"

using namespace remit;
using nlohmann::json;
using remit::testing::FreePort;
using remit::testing::RunCommand;
using remit::testing::TempDir;
using remit::testing::TestServer;

namespace {

const std::string kBase = "/api/v1/practices/audit-dental";

// A practice with a few patients and charges; returns the admin token and the log's length.
std::string Populate(TestServer& s, std::vector<std::string>* moments = nullptr) {
  BOOST_REQUIRE(s.Call("POST", "/api/v1/practices", s.operator_token(),
                       json{{"practice_id", "audit-dental"}, {"name", "A"}, {"currency", "USD"}})
                    .status == 201);
  std::string admin =
      s.Call("POST", kBase + "/tokens", s.operator_token(), json{{"role", "admin"}}).body["token"];
  s.Call("PUT", kBase + "/patients/G", admin, json{{"first_name", "G"}, {"last_name", "H"}});
  s.Call("PUT", kBase + "/patients/D", admin,
         json{{"first_name", "D"}, {"last_name", "H"}, {"guarantor_id", "G"}});
  for (int i = 0; i < 6; ++i) {
    BOOST_REQUIRE(s.Call("POST", kBase + "/charges", admin,
                         json{{"charge_id", "C" + std::to_string(i)},
                              {"patient_id", i % 2 ? "D" : "G"},
                              {"amount_cents", 1000 * (i + 1)},
                              {"service_date", "2026-05-0" + std::to_string(i + 1)}})
                      .status == 201);
    if (moments) {
      std::this_thread::sleep_for(std::chrono::milliseconds(3));
      moments->push_back(FormatTime(NowMicros(), true));
      std::this_thread::sleep_for(std::chrono::milliseconds(3));
    }
  }
  return admin;
}

std::string Remit(const std::string& args) {
  return std::string(REMIT_BINARY) + " " + args + " 2>&1";
}

// Tampers with the stored log of a stopped server, then checks every verifier names `bad`.
void ExpectTamperFound(const std::string& data, const std::function<void(RocksEventLog&)>& tamper,
                       uint64_t bad) {
  {
    auto log = RocksEventLog::Open(data + "/log");
    BOOST_REQUIRE(log.ok());
    tamper(**log);
  }
  auto log = RocksEventLog::OpenReadOnly(data + "/log");
  BOOST_REQUIRE(log.ok());
  ChainReport r = VerifyChains(**log, "audit-dental");
  BOOST_TEST(!r.chain_ok);
  BOOST_REQUIRE(r.first_bad_offset.has_value());
  BOOST_TEST(*r.first_bad_offset == bad);
  std::string out;
  BOOST_TEST(RunCommand(Remit("audit verify --data " + data), &out) == 1);
  BOOST_TEST(out.find("first_bad_offset " + std::to_string(bad)) != std::string::npos, out);
  // The server refuses to start on it, unless told to start read-only: then it serves what
  // can be read, says why, and refuses every write.
  AppOptions o;
  o.data_dir = data;
  BOOST_TEST(!App::Open(o).ok());
  o.read_only = true;
  auto ro = App::Open(o);
  BOOST_REQUIRE_MESSAGE(ro.ok(), ro.status().ToString());
  BOOST_TEST(!(*ro)->degraded_reason().empty());
  BOOST_TEST((*ro)->views().Get(projections::PracticeKey("audit-dental")).has_value());
  auto write = (*ro)->Execute(engine::CommandContext{"audit-dental", "k", {}, "t", 0},
                              engine::ChangeSettings{true, std::nullopt});
  BOOST_TEST(!write.ok());
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_flipped_byte_a_deleted_event_and_a_swap_are_found) {
  for (int kind = 0; kind < 3; ++kind) {
    TempDir dir;
    std::string admin;
    uint64_t end = 0;
    {
      TestServer s(dir.path());
      admin = Populate(s);
      end = s.app().log().EndOffset();
      auto v = s.Call("GET", kBase + "/audit/verify", admin);
      BOOST_TEST(v.body["chain_ok"] == true);
      BOOST_TEST(v.body["first_bad_offset"].is_null());
      BOOST_TEST(v.body["events_checked"] == end);
    }
    std::string out;
    BOOST_TEST(RunCommand(Remit("audit verify --data " + dir.path() + " --practice audit-dental"),
                          &out) == 0);
    BOOST_TEST(out.find("events checked: " + std::to_string(end)) != std::string::npos);
    uint64_t target = 5;
    BOOST_TEST_CONTEXT("tamper kind " << kind) {
      ExpectTamperFound(
          dir.path(),
          [&](RocksEventLog& log) {
            std::vector<LogEntry> e;
            BOOST_REQUIRE(log.Read(target, 2, &e).ok());
            if (kind == 0) {
              std::string edited = e[0].record;
              edited[edited.size() - 20] ^= 0x01;  // a byte of the body: an amount, a name
              BOOST_REQUIRE(log.TestOnlyOverwrite(target, &edited).ok());
            } else if (kind == 1) {
              BOOST_REQUIRE(log.TestOnlyOverwrite(target, nullptr).ok());
            } else {
              BOOST_REQUIRE(log.TestOnlyOverwrite(target, &e[1].record).ok());
              BOOST_REQUIRE(log.TestOnlyOverwrite(target + 1, &e[0].record).ok());
            }
          },
          target);
    }
  }
}

BOOST_AUTO_TEST_CASE(events_page_in_order_and_their_hashes_chain) {
  TempDir dir;
  TestServer s(dir.path());
  std::string admin = Populate(s);
  std::string auditor =
      s.Call("POST", kBase + "/tokens", admin, json{{"role", "auditor"}}).body["token"];
  std::vector<json> all;
  std::string after;
  for (int page = 0; page < 20; ++page) {
    auto r = s.Call("GET", kBase + "/events?limit=3" + (after.empty() ? "" : "&after=" + after),
                    auditor);
    BOOST_REQUIRE_EQUAL(r.status, 200);
    for (const auto& e : r.body["items"]) all.push_back(e);
    if (r.body["next_after"].is_null()) break;
    after = std::to_string(r.body["next_after"].get<uint64_t>());
  }
  BOOST_REQUIRE(all.size() == s.app().log().EndOffset());
  std::string prev(64, '0');
  for (size_t i = 0; i < all.size(); ++i) {
    BOOST_TEST(all[i]["offset"] == i);
    BOOST_TEST(all[i]["prev_hash"] == prev);
    prev = all[i]["hash"];
  }
  BOOST_TEST(all[0]["type"] == "practice_registered");
  // The last charge, then the auditor's token, then the auditor's reading of the events,
  // recorded once although it took several pages (HIPAA access log).
  BOOST_TEST(all[all.size() - 3]["type"] == "charge_posted");
  BOOST_TEST(all[all.size() - 3]["payload"]["amount_cents"] == 6000);
  BOOST_TEST(all[all.size() - 2]["type"] == "staff_token_issued");
  BOOST_TEST(all.back()["type"] == "record_accessed");
  BOOST_TEST(all.back()["payload"]["resource"] == "events");
  BOOST_TEST(all.back()["actor"].get<std::string>().starts_with("staff:"));
  int accesses = 0;
  for (const auto& e : all) accesses += e["type"] == "record_accessed";
  BOOST_TEST(accesses == 1);
  auto bad = s.Call("GET", kBase + "/events?limit=0", auditor);
  BOOST_TEST(bad.status == 400);
  BOOST_TEST(s.Call("GET", kBase + "/events", "").status == 401);
  // The export has every event with the same hashes.
  std::string out;
  BOOST_TEST(RunCommand(Remit("audit export --data " + dir.path() +
                              " --practice audit-dental --format jsonl"),
                        &out) == 0);
  std::istringstream lines(out);
  std::string line;
  size_t n = 0;
  while (std::getline(lines, line)) {
    json j = json::parse(line);
    BOOST_TEST(j["hash"] == all.at(n)["hash"]);
    ++n;
  }
  BOOST_TEST(n == all.size());
}

BOOST_AUTO_TEST_CASE(a_replay_equals_the_live_views_and_a_cut_equals_as_of) {
  TempDir dir, replay, cut;
  std::vector<std::string> moments;
  std::string admin;
  std::vector<json> answers;
  {
    TestServer s(dir.path());
    admin = Populate(s, &moments);
    for (const auto& m : {moments[1], moments[4]}) {
      auto r = s.Call("GET", kBase + "/accounts/G/balance?as_of=" + m, admin);
      BOOST_REQUIRE_EQUAL(r.status, 200);
      answers.push_back(r.body);
    }
  }
  std::string out;
  BOOST_TEST(RunCommand(Remit("replay --data " + dir.path() + " --out " + replay.path() + "/r"),
                        &out) == 0);
  BOOST_TEST(
      RunCommand(Remit("replay --compare " + dir.path() + " " + replay.path() + "/r"), &out) == 0,
      out);
  // Cut at the second moment: a node opened on that cut answers now what as_of answered.
  BOOST_TEST(RunCommand(Remit("replay --data " + dir.path() + " --out " + cut.path() +
                              "/c --to-time " + moments[4]),
                        &out) == 0);
  BOOST_TEST(RunCommand(Remit("replay --compare " + dir.path() + " " + cut.path() + "/c"), &out) ==
             1);
  auto views = ViewStore::OpenReadOnly(cut.path() + "/c/views");
  BOOST_REQUIRE(views.ok());
  auto bal = [&](const std::string& p) {
    auto v = (*views)->Get(projections::BalanceKey("audit-dental", p));
    return v ? projections::DecodeCents(*v) : -1;
  };
  BOOST_TEST(answers[1]["total_balance_cents"] == bal("G") + bal("D"));
  BOOST_TEST(answers[1]["members"][0]["balance_cents"] == bal("G"));
  BOOST_TEST(answers[0]["total_balance_cents"] == 3000);  // C0 + C1 by the second moment
  // The command line gives the same point-in-time answer from the log.
  std::string cli;
  BOOST_TEST(RunCommand(std::string(REMIT_BINARY) + " audit balance --data " + dir.path() +
                            " --practice audit-dental --patient G --as-of " + moments[1] +
                            " 2>/dev/null",
                        &cli) == 0);
  json from_cli = json::parse(cli);
  BOOST_TEST(from_cli["total_balance_cents"] == answers[0]["total_balance_cents"]);
  BOOST_TEST(from_cli["members"] == answers[0]["members"]);
  BOOST_TEST(answers[1]["total_balance_cents"] == 15000);
}

BOOST_AUTO_TEST_CASE(reading_a_patients_balance_is_recorded_once_per_reader) {
  TempDir dir;
  TestServer s(dir.path());
  std::string admin = Populate(s);
  std::string auditor =
      s.Call("POST", kBase + "/tokens", admin, json{{"role", "auditor"}}).body["token"];
  for (int i = 0; i < 3; ++i) {
    BOOST_REQUIRE(s.Call("GET", kBase + "/accounts/G/balance", auditor).status == 200);
    BOOST_REQUIRE(s.Call("GET", kBase + "/accounts/G/balance", admin).status == 200);
  }
  std::vector<std::string> readers;
  BOOST_REQUIRE(ForEachEvent(s.app().log(), "audit-dental", [&](uint64_t, const Event& e) {
                  if (auto* a = std::get_if<RecordAccessed>(&e.payload)) {
                    BOOST_TEST(a->resource == "balance");
                    BOOST_TEST(a->patient_id == "G");
                    readers.push_back(e.actor);
                  }
                  return true;
                }).ok());
  BOOST_TEST(readers.size() == 2u);  // the auditor once, the admin once
  if (readers.size() == 2) BOOST_TEST(readers[0] != readers[1]);
}
