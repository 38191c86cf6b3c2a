// `remit audit verify|export` and `remit replay`: the auditors' side of the command line.
// They open the log read-only, so they also work beside a running server.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "adapters/app/event_json.h"
#include "adapters/app/projection_runner.h"
#include "adapters/app/queries.h"
#include "adapters/storage/audit.h"
#include "adapters/storage/rocks_event_log.h"
#include "adapters/storage/view_store.h"
#include "projections/projections.h"
#include "tools/cli.h"
#include "tools/node/data_check.h"

namespace remit::tools {
namespace {

Result<std::unique_ptr<RocksEventLog>> OpenLog(const std::string& data) {
  if (!std::filesystem::exists(data + "/log")) {
    return Status::NotFound("no event log in " + data);
  }
  return RocksEventLog::OpenReadOnly(data + "/log");
}

std::optional<int64_t> TimeFlag(const Args& args, const char* name, bool* bad) {
  auto v = args.Get(name);
  if (!v) return std::nullopt;
  auto t = ParseTime(*v);
  if (!t) *bad = true;
  return t;
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"')
      out += "\"\"";
    else
      out.push_back(c);
  }
  return out + "\"";
}

}  // namespace

int AuditVerify(const Args& args) {
  auto data = args.Get("data");
  if (!data) {
    std::fprintf(stderr, "remit audit verify: --data DIR [--practice ID]\n");
    return 2;
  }
  if (!std::filesystem::exists(*data + "/log")) {
    std::fprintf(stderr, "remit audit verify: no event log in %s\n", data->c_str());
    return 2;
  }
  std::string practice = args.Get("practice").value_or("");
  // Every store of the directory, not only the chains: damage anywhere is reported here.
  DataCheck check = CheckDataDirectory(*data, practice, args.Get("secrets-key").value_or(""));
  for (const auto& p : check.problems) std::printf("damaged: %s\n", p.c_str());
  const ChainReport& r = check.chains;
  if (!r.chain_ok) {
    if (r.first_bad_offset) {
      std::printf("chain broken: first bad offset %llu: %s\n",
                  static_cast<unsigned long long>(*r.first_bad_offset), r.why.c_str());
      std::printf("first_bad_offset %llu\n", static_cast<unsigned long long>(*r.first_bad_offset));
    } else {
      std::printf("the log cannot be read: %s\n", r.why.c_str());
    }
    return 1;
  }
  if (!check.problems.empty()) {
    std::printf("every chain holds (events checked: %llu), but %zu store(s) are damaged\n",
                static_cast<unsigned long long>(r.events_checked), check.problems.size());
    return 1;
  }
  if (!practice.empty())
    std::printf("practice %s head hash %s\n", practice.c_str(), r.head_hash_hex.c_str());
  std::printf("every chain holds; events checked: %llu\n%llu\n",
              static_cast<unsigned long long>(r.events_checked),
              static_cast<unsigned long long>(r.events_checked));
  return 0;
}

int AuditExport(const Args& args) {
  auto data = args.Get("data");
  auto practice = args.Get("practice");
  std::string format = args.Get("format").value_or("jsonl");
  bool bad = false;
  auto from = TimeFlag(args, "from", &bad);
  auto to = TimeFlag(args, "to", &bad);
  if (!data || !practice || (format != "jsonl" && format != "csv") || bad) {
    std::fprintf(
        stderr,
        "remit audit export: --data DIR --practice ID --format jsonl|csv [--from T] [--to T] "
        "[--patient ID]\n");
    return 2;
  }
  auto log = OpenLog(*data);
  if (!log.ok()) {
    std::fprintf(stderr, "remit audit export: %s\n", log.status().ToString().c_str());
    return 2;
  }
  std::string patient = args.Get("patient").value_or("");
  if (format == "csv") {
    std::printf("offset,event_id,type,occurred_at,actor,prev_hash,hash,payload\n");
  }
  Status s = ForEachEvent(**log, *practice, [&](uint64_t offset, const Event& ev) {
    if (from && ev.occurred_at_us < *from) return true;
    if (to && ev.occurred_at_us > *to) return false;
    nlohmann::json j = EventJson(offset, ev);
    if (!patient.empty()) {
      const auto& p = j["payload"];
      bool mine = p.value("patient_id", "") == patient || p.value("guarantor_id", "") == patient;
      if (!mine) return true;
    }
    if (format == "jsonl") {
      std::printf("%s\n", j.dump().c_str());
    } else {
      std::printf("%llu,%s,%s,%s,%s,%s,%s,%s\n", static_cast<unsigned long long>(offset),
                  j["event_id"].get<std::string>().c_str(), j["type"].get<std::string>().c_str(),
                  j["occurred_at"].get<std::string>().c_str(),
                  CsvField(j["actor"].get<std::string>()).c_str(),
                  j["prev_hash"].get<std::string>().c_str(), j["hash"].get<std::string>().c_str(),
                  CsvField(j["payload"].dump()).c_str());
    }
    return true;
  });
  if (!s.ok()) {
    std::fprintf(stderr, "remit audit export: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}

// `remit audit balance|transactions`: the family view or the transactions list of a practice
// as they stood at --as-of (default: now), folded from the log.
int AuditView(const Args& args, bool balance) {
  auto data = args.Get("data");
  auto practice = args.Get("practice");
  auto patient = args.Get("patient");
  bool bad = false;
  auto as_of = TimeFlag(args, "as-of", &bad);
  if (!data || !practice || (balance && !patient) || bad) {
    std::fprintf(stderr,
                 balance ? "remit audit balance --data DIR --practice ID --patient ID [--as-of T]\n"
                         : "remit audit transactions --data DIR --practice ID [--as-of T]\n");
    return 2;
  }
  auto log = OpenLog(*data);
  if (!log.ok()) {
    std::fprintf(stderr, "remit audit: %s\n", log.status().ToString().c_str());
    return 2;
  }
  MemoryViewTxn mem;
  Status s = FoldAsOf(**log, *practice, as_of.value_or(INT64_MAX), &mem);
  if (!s.ok()) {
    std::fprintf(stderr, "remit audit: %s\n", s.ToString().c_str());
    return 1;
  }
  nlohmann::json out;
  if (balance) {
    auto v = FamilyView(MemoryReader(mem), *practice, *patient);
    if (!v) {
      std::fprintf(stderr, "remit audit balance: no patient %s then\n", patient->c_str());
      return 1;
    }
    out = *v;
  } else {
    TransactionsPage(MemoryReader(mem), *practice, SIZE_MAX, "", &out);
  }
  if (as_of) out["as_of"] = FormatTime(*as_of);
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}

int Replay(const Args& args) {
  if (auto cmp = args.Get("compare")) {
    if (args.words.empty()) {
      std::fprintf(stderr, "remit replay --compare DIR DIR2\n");
      return 2;
    }
    std::string a = *cmp, b = args.words.back();
    auto va = ViewStore::OpenReadOnly(a + "/views");
    auto vb = ViewStore::OpenReadOnly(b + "/views");
    if (!va.ok() || !vb.ok()) {
      std::fprintf(stderr, "remit replay --compare: %s\n",
                   (!va.ok() ? va.status() : vb.status()).ToString().c_str());
      return 2;
    }
    bool equal = true;
    for (const auto& p : projections::AllProjections()) {
      std::string name(p->name());
      std::string diff = (*va)->Diff(**vb, name + "/");
      if (diff.empty()) diff = (*va)->Diff(**vb, ProjectionRunner::CheckpointKey(name));
      std::printf("%-12s %s\n", name.c_str(),
                  diff.empty() ? "equal" : ("differs: " + diff).c_str());
      equal = equal && diff.empty();
    }
    std::printf(equal ? "projections are equal\n" : "projections differ\n");
    return equal ? 0 : 1;
  }
  auto data = args.Get("data");
  auto out = args.Get("out");
  bool bad = false;
  auto to_time = TimeFlag(args, "to-time", &bad);
  std::optional<uint64_t> to_offset;
  if (auto o = args.Get("to-offset")) {
    if (o->empty() || o->find_first_not_of("0123456789") != std::string::npos || o->size() > 19) {
      bad = true;
    } else {
      to_offset = std::stoull(*o);
    }
  }
  if (!data || !out || bad) {
    std::fprintf(
        stderr,
        "remit replay --data DIR --out DIR2 [--to-time T | --to-offset N] | --compare DIR DIR2\n");
    return 2;
  }
  auto log = OpenLog(*data);
  if (!log.ok()) {
    std::fprintf(stderr, "remit replay: %s\n", log.status().ToString().c_str());
    return 2;
  }
  if (std::filesystem::exists(*out + "/views")) {
    std::fprintf(stderr, "remit replay: %s/views exists; replay into a fresh directory\n",
                 out->c_str());
    return 2;
  }
  std::filesystem::create_directories(*out);
  auto views = ViewStore::Open(*out + "/views", /*bulk_load=*/true);
  if (!views.ok()) {
    std::fprintf(stderr, "remit replay: %s\n", views.status().ToString().c_str());
    return 2;
  }
  ProjectionRunner runner(log->get(), views->get());
  uint64_t end = (*log)->EndOffset();
  if (to_offset) end = std::min(end, *to_offset + 1);  // up to and including offset N
  auto start = std::chrono::steady_clock::now();
  std::function<bool(const Event&)> keep;
  if (to_time) keep = [t = *to_time](const Event& e) { return e.occurred_at_us <= t; };
  // Progress: a bar on a terminal, plain lines otherwise.
  bool tty = ::isatty(STDOUT_FILENO) != 0;
  auto last = std::chrono::steady_clock::now();
  runner.SetProgress([&](uint64_t done) {
    auto now = std::chrono::steady_clock::now();
    if (now - last < std::chrono::milliseconds(tty ? 200 : 2000) && done < end) return;
    last = now;
    double secs = std::chrono::duration<double>(now - start).count();
    double rate = secs > 0 ? static_cast<double>(done) / secs : 0;
    double left = rate > 0 ? static_cast<double>(end - done) / rate : 0;
    int pct = end == 0 ? 100 : static_cast<int>(100 * done / end);
    if (tty) {
      std::string bar(static_cast<size_t>(pct / 4), '#');
      bar.resize(25, '.');
      std::printf("\r[%s] %3d%% %llu/%llu events, %.0f events/s, %.0f s left  ", bar.c_str(), pct,
                  static_cast<unsigned long long>(done), static_cast<unsigned long long>(end), rate,
                  left);
    } else {
      std::printf("progress %llu/%llu events (%d%%), %.0f events/s, %.0f s left\n",
                  static_cast<unsigned long long>(done), static_cast<unsigned long long>(end), pct,
                  rate, left);
    }
    std::fflush(stdout);
  });
  Status s = runner.CatchUp(end, keep);
  if (tty) std::printf("\n");
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!s.ok()) {
    std::fprintf(stderr, "remit replay: %s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("replayed %llu of %llu events in %.2f s (%.0f events/s) into %s/views\n",
              static_cast<unsigned long long>(runner.applied_end()),
              static_cast<unsigned long long>(end), secs,
              secs > 0 ? static_cast<double>(runner.applied_end()) / secs : 0.0, out->c_str());
  return 0;
}

}  // namespace remit::tools
