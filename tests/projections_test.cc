// Projections: a rebuild from offset 0 equals the live views byte for byte; a restart in the
// middle applies nothing twice; a duplicate delivery of a batch changes nothing.
#define BOOST_TEST_MODULE projections
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cstring>
#include <random>

#include "adapters/app/projection_runner.h"
#include "adapters/storage/huge_pages.h"
#include "adapters/storage/rocks_event_log.h"
#include "projections/json_object.h"
#include "test_util.h"

using namespace remit;
using nlohmann::json;
using remit::testing::TempDir;
using remit::testing::TestServer;

namespace {

// Drives a realistic slice of traffic through the HTTP contract.
void Scenario(TestServer& s) {
  std::string op = s.operator_token();
  for (const char* p : {"alpha-dental", "beta-ortho"}) {
    std::string base = std::string("/api/v1/practices/") + p;
    BOOST_REQUIRE(s.Call("POST", "/api/v1/practices", op,
                         json{{"practice_id", p}, {"name", p}, {"currency", "USD"}})
                      .status == 201);
    std::string admin = s.Call("POST", base + "/tokens", op, json{{"role", "admin"}}).body["token"];
    s.Call("PUT", base + "/settings", admin, json{{"portal_payments_enabled", true}});
    for (int i = 0; i < 20; ++i) {
      json g = i % 4 == 0 ? json(nullptr) : json("P" + std::to_string(i - i % 4));
      BOOST_REQUIRE(s.Call("PUT", base + "/patients/P" + std::to_string(i), admin,
                           json{{"first_name", "F"}, {"last_name", "L"}, {"guarantor_id", g}})
                        .status == 201);
      BOOST_REQUIRE(s.Call("POST", base + "/charges", admin,
                           json{{"charge_id", "C" + std::to_string(i)},
                                {"patient_id", "P" + std::to_string(i)},
                                {"amount_cents", 1000 + i},
                                {"service_date", "2026-09-01"}})
                        .status == 201);
    }
    // A guarantor change moves a dependent between families.
    s.Call("PUT", base + "/patients/P5", admin,
           json{{"first_name", "F"}, {"last_name", "L"}, {"guarantor_id", "P8"}});
    s.Call("POST", base + "/patients/P0/portal-invites", admin, std::string());
    std::string tok =
        s.Call("POST", base + "/tokens", admin, json{{"role", "staff"}}).body["token_id"];
    s.Call("DELETE", base + "/tokens/" + tok, admin);
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(rebuild_from_zero_equals_live_views_byte_for_byte) {
  TempDir dir, rebuilt;
  TestServer s(dir.path());
  Scenario(s);
  auto views = ViewStore::Open(rebuilt.path());
  BOOST_REQUIRE(views.ok());
  ProjectionRunner runner(&s.app().log(), views->get());
  BOOST_REQUIRE(runner.CatchUp(s.app().log().EndOffset()).ok());
  BOOST_TEST(runner.applied_end() == s.app().log().EndOffset());
  std::string diff = s.app().views().Diff(**views);
  BOOST_TEST(diff.empty(), "first difference: " << diff);
  // The comparison can fail: one changed byte is found.
  BOOST_REQUIRE(
      (*views)
          ->Put(projections::BalanceKey("alpha-dental", "P0"), projections::EncodeCents(1), false)
          .ok());
  BOOST_TEST(!s.app().views().Diff(**views).empty());
}

BOOST_AUTO_TEST_CASE(restart_mid_way_applies_nothing_twice) {
  TempDir dir, a, b;
  TestServer s(dir.path());
  Scenario(s);
  uint64_t end = s.app().log().EndOffset();
  {
    auto views = ViewStore::Open(a.path());
    BOOST_REQUIRE(views.ok());
    ProjectionRunner first(&s.app().log(), views->get());
    BOOST_REQUIRE(first.CatchUp(end / 3).ok());
  }
  {
    // Reopened: the runner resumes from its checkpoints.
    auto views = ViewStore::Open(a.path());
    BOOST_REQUIRE(views.ok());
    ProjectionRunner second(&s.app().log(), views->get());
    BOOST_TEST(second.applied_end() == end / 3);
    BOOST_REQUIRE(second.CatchUp(end).ok());
  }
  auto va = ViewStore::Open(a.path());
  BOOST_REQUIRE(va.ok());
  std::string diff = s.app().views().Diff(**va);
  BOOST_TEST(diff.empty(), "first difference: " << diff);
}

BOOST_AUTO_TEST_CASE(duplicate_delivery_changes_nothing) {
  TempDir dir, a;
  TestServer s(dir.path());
  Scenario(s);
  uint64_t end = s.app().log().EndOffset();
  auto views = ViewStore::Open(a.path());
  BOOST_REQUIRE(views.ok());
  {
    ProjectionRunner r(&s.app().log(), views->get());
    BOOST_REQUIRE(r.CatchUp(end).ok());
  }
  // The whole log delivered again, as a consumer would after a rebalance: nothing changes.
  ProjectionRunner again(&s.app().log(), views->get());
  BOOST_TEST(again.applied_end() == end);
  DecodedBatch entries;
  BOOST_REQUIRE(ProjectionRunner::ReadDecoded(&s.app().log(), 0, end, &entries).ok());
  bool cut = false;
  BOOST_REQUIRE(again.ApplyBatch(entries, {}, &cut).ok());
  BOOST_TEST(again.applied_end() == end);
  std::string diff = s.app().views().Diff(**views);
  BOOST_TEST(diff.empty(), "first difference: " << diff);
}

BOOST_AUTO_TEST_CASE(bulk_rebuild_equals_live_and_ingested_writes_overwrite_and_delete) {
  TempDir dir, rebuilt;
  TestServer s(dir.path());
  Scenario(s);
  {
    auto views = ViewStore::Open(rebuilt.path(), /*bulk_load=*/true);
    BOOST_REQUIRE(views.ok());
    ProjectionRunner runner(&s.app().log(), views->get());
    BOOST_REQUIRE(runner.CatchUp(s.app().log().EndOffset()).ok());
    std::string diff = s.app().views().Diff(**views);
    BOOST_TEST(diff.empty(), "first difference: " << diff);
  }
  // Two ingested transactions: the second overwrites and deletes keys of the first, and a
  // normal reopen reads what the second left (no ingest file is left beside the tables).
  TempDir bulk;
  {
    auto views = ViewStore::Open(bulk.path(), /*bulk_load=*/true);
    BOOST_REQUIRE(views.ok());
    ViewStore::Txn first(views->get());
    first.Put("a", "1");
    first.Put("b", "2");
    BOOST_REQUIRE(first.Commit().ok());
    ViewStore::Txn second(views->get());
    BOOST_TEST(second.Get("a").value_or("") == "1");
    second.Put("a", "3");
    second.Delete("b");
    BOOST_REQUIRE(second.Commit().ok());
  }
  auto views = ViewStore::Open(bulk.path());
  BOOST_REQUIRE(views.ok());
  BOOST_TEST((*views)->Get("a").value_or("") == "3");
  BOOST_TEST(!(*views)->Get("b").has_value());
  for (const auto& f : std::filesystem::directory_iterator(bulk.path())) {
    BOOST_TEST(f.path().filename().string().rfind("ingest-", 0) != 0, f.path());
  }
}

// The views hold JSON written by JsonObject; a rebuild compares byte for byte with views written
// by nlohmann::json::dump() (older versions), so both must give the same bytes.
BOOST_AUTO_TEST_CASE(json_object_writes_the_bytes_nlohmann_dump_writes) {
  std::mt19937 rng(20261127);
  const std::vector<std::string> pieces = {"a",
                                           "Z",
                                           "0",
                                           " ",
                                           "\"",
                                           "\\",
                                           "/",
                                           "\b",
                                           "\f",
                                           "\n",
                                           "\r",
                                           "\t",
                                           std::string(1, '\0'),
                                           "\x01",
                                           "\x1f",
                                           "\x7f",
                                           "\xc3\xa9",
                                           "\xe2\x82\xac",
                                           "\xf0\x9f\x98\x80",
                                           "O'Brien",
                                           "(555) 010-2030"};
  const std::vector<std::string> keys = {"patient_id", "first_name",   "b", "a",      "A",
                                         "_",          "amount_cents", "z", "status", "aa",
                                         "exp_year",   "exp_month"};
  for (int round = 0; round < 2000; ++round) {
    projections::JsonObject mine;
    json theirs = json::object();
    std::vector<std::string> values;  // JsonObject refers to them until Dump
    values.reserve(16);
    size_t members = rng() % 12;
    for (size_t m = 0; m < members; ++m) {
      const std::string& key = keys[rng() % keys.size()];
      bool first = !theirs.contains(key);  // nlohmann keeps the first value of a key
      switch (rng() % 4) {
        case 0: {
          std::string v;
          for (size_t k = rng() % 6; k > 0; --k) v += pieces[rng() % pieces.size()];
          values.push_back(v);
          mine.Str(key, values.back());
          if (first) theirs[key] = v;
          break;
        }
        case 1: {
          int64_t v = static_cast<int64_t>(rng()) - (int64_t{1} << 31);
          if (rng() % 5 == 0) v = INT64_MIN + static_cast<int64_t>(rng() % 3);
          mine.Int(key, v);
          if (first) theirs[key] = v;
          break;
        }
        case 2: {
          bool v = rng() % 2 == 0;
          mine.Bool(key, v);
          if (first) theirs[key] = v;
          break;
        }
        default:
          mine.Null(key);
          if (first) theirs[key] = nullptr;
      }
    }
    BOOST_REQUIRE_EQUAL(mine.Dump(), theirs.dump());
  }
  // Invalid UTF-8 (never accepted by the API, but a log is bytes) is replaced, not thrown.
  std::string bad = "ab\xff\xc3(\xed\xa0\x80";
  std::string dumped = projections::JsonObject().Str("name", bad).Dump();
  json parsed = json::parse(dumped);
  BOOST_TEST(parsed["name"].get<std::string>().find("\xEF\xBF\xBD") != std::string::npos);
}

// A replay's reader names an edited record by its own offset, wherever it falls, and decodes
// every record as it was written.
BOOST_AUTO_TEST_CASE(a_replay_names_the_edited_record_by_its_offset) {
  TempDir dir;
  std::vector<std::string> sealed;
  {
    auto log = RocksEventLog::Open(dir.path());
    BOOST_REQUIRE(log.ok());
    Hash256 prev{};
    for (int i = 0; i < 7; ++i) {
      Event e;
      e.practice_id = "alpha-dental";
      e.command_key = "c" + std::to_string(i);
      e.event_id = DeriveEventId(e.practice_id, e.command_key, 0);
      e.occurred_at_us = 1780000000000000 + i;
      e.payload = ChargePosted{"C" + std::to_string(i), "P1", 100 + i, "exam", "2026-11-01"};
      sealed.push_back(Seal(&e, prev));
      prev = e.hash;
      BOOST_REQUIRE((*log)->Append({LogRecord{e.practice_id, sealed.back()}}).ok());
    }
  }
  for (uint64_t bad : {2u, 3u, 6u}) {
    auto log = RocksEventLog::Open(dir.path());
    BOOST_REQUIRE(log.ok());
    DecodedBatch entries;
    BOOST_REQUIRE(ProjectionRunner::ReadDecoded(log->get(), 0, 7, &entries).ok());
    BOOST_REQUIRE_EQUAL(entries.size(), 7u);
    for (size_t i = 0; i < entries.size(); ++i) {
      BOOST_TEST(entries[i].offset == i);
      BOOST_TEST(std::get<ChargePosted>(entries[i].event.payload).amount_cents ==
                 100 + static_cast<int64_t>(i));
    }
    std::string edited = sealed[bad];
    edited.back() ^= 0x01;
    BOOST_REQUIRE((*log)->TestOnlyOverwrite(bad, &edited).ok());
    Status s = ProjectionRunner::ReadDecoded(log->get(), 0, 7, &entries);
    BOOST_TEST(s.IsCorruption());
    BOOST_TEST(s.message().find("offset " + std::to_string(bad) + ":") != std::string::npos,
               s.message());
    BOOST_REQUIRE((*log)->TestOnlyOverwrite(bad, &sealed[bad]).ok());
  }
}

// Keys are the practice and the id joined by '/', however long the id (the balance key is
// built on the stack up to 128 bytes, on the heap past that); a charge folds into that key.
BOOST_AUTO_TEST_CASE(balance_keys_join_their_parts_at_any_length_and_charges_fold_into_them) {
  for (size_t n : {size_t{1}, size_t{114}, size_t{115}, size_t{300}}) {  // 114: a key of 128 bytes
    std::string patient(n, 'q');
    BOOST_TEST(projections::BalanceKey("pr", patient) == "accounts/b/pr/" + patient);
    MemoryViewTxn txn;
    auto all = projections::AllProjections();
    Event e;
    e.practice_id = "pr";
    uint64_t offset = 0;
    for (Payload p : {Payload(PatientUpserted{patient, "F", "L", "", "", "", ""}),
                      Payload(ChargePosted{"C1", patient, 1234, "Exam", "2026-11-01"}),
                      Payload(ChargePosted{"C2", patient, 66, "X-ray", "2026-11-02"})}) {
      e.payload = p;
      for (auto& projection : all) projection->Apply(txn, offset, e);
      ++offset;
    }
    auto it = txn.data().find(projections::BalanceKey("pr", patient));
    BOOST_REQUIRE(it != txn.data().end());
    BOOST_TEST(projections::DecodeCents(it->second) == 1300);
  }
}

// Large blocks are their own 2 MiB-aligned mappings, zeroed, rounded up to whole huge pages;
// small ones come from malloc, zeroed too. A vector on LargeAllocator grows across the two.
BOOST_AUTO_TEST_CASE(large_blocks_are_zeroed_and_huge_page_aligned) {
  for (size_t bytes : {size_t{1}, size_t{4096}, kHugePageBytes - 1, kHugePageBytes,
                       kHugePageBytes + 1, 5 * kHugePageBytes + 17}) {
    size_t held = 0;
    char* p = AllocateLarge(bytes, &held);
    BOOST_TEST_CONTEXT("bytes " << bytes) {
      BOOST_TEST(held >= bytes);
      if (bytes >= kHugePageBytes) {
        BOOST_TEST(reinterpret_cast<uintptr_t>(p) % kHugePageBytes == 0u);
        BOOST_TEST(held % kHugePageBytes == 0u);
      } else {
        BOOST_TEST(held == bytes);
      }
      BOOST_TEST(std::all_of(p, p + held, [](char c) { return c == 0; }));
      std::memset(p, 0x5a, held);  // all of it is writable
    }
    FreeLarge(p, held);
  }
  std::vector<uint64_t, LargeAllocator<uint64_t>> v;
  for (uint64_t i = 0; i < 3 * kHugePageBytes / sizeof(uint64_t); ++i) v.push_back(i * 7);
  uint64_t sum = 0;
  for (uint64_t x : v) sum += x;
  uint64_t n = v.size();
  BOOST_TEST(sum == 7 * n * (n - 1) / 2);
}

// The transaction's overlay past its first table and arena chunk: every key written is read
// back (puts, overwrites, deletes), the commit writes exactly those keys, and the emptied
// overlay starts clean for the next transaction.
BOOST_AUTO_TEST_CASE(a_view_transaction_holds_thousands_of_keys_and_commits_exactly_them) {
  TempDir dir;
  auto views = ViewStore::Open(dir.path());
  BOOST_REQUIRE(views.ok());
  ViewStore::Txn txn(views->get());
  const int kKeys = 100000;  // a table of 256k slots and arena chunks of 4 MiB: on huge pages
  auto key = [](int i) {
    return "accounts/b/practice-" + std::to_string(i % 7) + "/P" + std::to_string(i);
  };
  for (int i = 0; i < kKeys; ++i) txn.Put(key(i), "v" + std::to_string(i));
  for (int i = 0; i < kKeys; i += 3)
    txn.Put(key(i), std::string(40, 'x') + std::to_string(i));  // grows
  for (int i = 1; i < kKeys; i += 5) txn.Delete(key(i));
  txn.Delete("never/written");
  txn.Prefetch("never/read");  // a hint: it adds nothing
  txn.Prefetch(key(2));
  BOOST_TEST(txn.size() == static_cast<size_t>(kKeys + 1));
  auto expected = [&](int i) -> std::optional<std::string> {
    if (i % 5 == 1) return std::nullopt;
    if (i % 3 == 0) return std::string(40, 'x') + std::to_string(i);
    return "v" + std::to_string(i);
  };
  for (int i = 0; i < kKeys; ++i) BOOST_REQUIRE(txn.Get(key(i)) == expected(i));
  BOOST_REQUIRE(txn.Commit().ok());
  BOOST_TEST(txn.size() == 0u);
  for (int i = 0; i < kKeys; ++i) BOOST_REQUIRE((*views)->Get(key(i)) == expected(i));
  BOOST_TEST(!(*views)->Get("never/written").has_value());
  txn.Put(key(1), "again");  // after the clear, reads fall through to the store again
  BOOST_TEST(txn.Get(key(1)).value_or("") == "again");
  BOOST_TEST(txn.Get(key(2)).value_or("") == "v2");
  BOOST_REQUIRE(txn.Commit().ok());
  BOOST_TEST((*views)->Get(key(1)).value_or("") == "again");
}
