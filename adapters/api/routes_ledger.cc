// Routes that read and post the ledger: a family's balance (now or as of a past moment), the
// inbox, transactions, posting a payment, and the auditor's events and chain check.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "adapters/api/answers.h"
#include "adapters/api/core.h"
#include "adapters/api/routes.h"
#include "adapters/app/event_json.h"
#include "adapters/app/queries.h"
#include "adapters/storage/audit.h"

namespace remit {
namespace {

using nlohmann::json;

// ?as_of=T: the practice's views as they stood at T, folded from its events.
struct PastViews {
  MemoryViewTxn mem;
  int64_t at_us = 0;
};

// An answer when `text` is not a time or the fold fails.
std::optional<HttpResponse> FoldAsOf(Request& r, const std::string& text, PastViews* out) {
  auto t = ParseTime(text);
  if (!t) return Problem(400, "validation_failed", "as_of must be an RFC 3339 time");
  Status s = remit::FoldAsOf(r.app().log(), r.practice, *t, &out->mem);
  if (!s.ok()) return Problem(503, "unavailable", s.ToString());
  out->at_us = *t;
  return std::nullopt;
}

HttpResponse Balance(Request& r) {
  const std::string& patient = r.Param("patient_id");
  if (auto as_of = r.Query("as_of")) {
    PastViews past;
    if (auto fail = FoldAsOf(r, *as_of, &past)) return *fail;
    auto v = FamilyView(MemoryReader(past.mem), r.practice, patient);
    if (!v) return Problem(404, "patient_not_found", "no patient " + patient + " at that time");
    r.core.RecordAccess(r.practice, r.Actor(), r.who.token_id, "balance_history", patient);
    (*v)["as_of"] = FormatTime(past.at_us);
    return Json(200, *v);
  }
  auto v = FamilyView(LiveReader(r.app().views()), r.practice, patient);
  if (!v) return Problem(404, "patient_not_found", "no patient " + patient);
  r.core.RecordAccess(r.practice, r.Actor(), r.who.token_id, "balance", patient);
  return Json(200, *v);
}

// A query parameter as a whole number up to `max`; `dflt` when absent, nullopt when malformed.
std::optional<uint64_t> Number(Request& r, const char* name, uint64_t dflt, uint64_t max) {
  auto v = r.Query(name);
  if (!v) return dflt;
  if (v->empty() || v->size() > 19 || v->find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  uint64_t x = std::stoull(*v);
  if (x > max) return std::nullopt;
  return x;
}

// GET events[?after=<offset>&limit=<n>]: the practice's events in log order, with their hashes.
HttpResponse Events(Request& r) {
  auto limit = Number(r, "limit", 100, 1000);
  if (!limit || *limit == 0) Fail("limit must be an integer from 1 to 1000");
  auto after = Number(r, "after", 0, UINT64_MAX / 2);
  if (!after) Fail("after must be an event offset");
  uint64_t from = r.Query("after") ? *after + 1 : 0;
  json items = json::array();
  bool more = false;
  Status s = ForEachEvent(r.app().log(), r.practice, [&](uint64_t offset, const Event& ev) {
    if (offset < from) return true;
    if (items.size() == *limit) {
      more = true;
      return false;
    }
    json j = EventJson(offset, ev);
    items.push_back({{"offset", offset},
                     {"event_id", j["event_id"]},
                     {"type", j["type"]},
                     {"occurred_at", j["occurred_at"]},
                     {"prev_hash", j["prev_hash"]},
                     {"hash", j["hash"]},
                     {"actor", j["actor"]},
                     {"payload", j["payload"]}});
    return true;
  });
  if (!s.ok()) return Problem(503, "unavailable", s.ToString());
  r.core.RecordAccess(r.practice, r.Actor(), r.who.token_id, "events", "");
  json next = more ? json(items.back()["offset"]) : json(nullptr);
  return Json(200, {{"items", items}, {"next_after", next}});
}

HttpResponse Verify(Request& r) {
  ChainReport c = VerifyChains(r.app().log(), r.practice);
  json out = {{"events_checked", c.events_checked},
              {"chain_ok", c.chain_ok},
              {"first_bad_offset", c.first_bad_offset ? json(*c.first_bad_offset) : json(nullptr)}};
  if (!c.chain_ok) out["detail"] = c.why;
  if (c.chain_ok) out["head_hash"] = c.head_hash_hex;
  return Json(200, out);
}

// An inbox item of the view as the contract shows it.
json InboxJson(json n) {
  if (n.contains("created_at_us")) {
    n["created_at"] = FormatTime(n.value("created_at_us", int64_t{0}));
    n.erase("created_at_us");
  }
  return n;
}

HttpResponse Inbox(Request& r) {
  auto unread = r.Query("unread");
  bool only_unread = unread && (*unread == "true" || *unread == "1");
  json items = json::array();
  for (auto& n :
       InboxItems(LiveReader(r.app().views()), r.practice, only_unread, ApiCore::kInboxItemsMax)) {
    items.push_back(InboxJson(std::move(n)));
  }
  // Unread first, each group newest first (the scan is newest first).
  std::stable_partition(items.begin(), items.end(),
                        [](const json& n) { return !n.value("read", false); });
  return Json(200, {{"items", items}});
}

HttpResponse MarkRead(Request& r) {
  const std::string& id = r.Param("notification_id");
  auto e = r.app().Execute(r.Command("read:" + id), engine::MarkNotificationRead{id});
  if (!e.ok() || e->rejection) return FromExec(e);
  auto n = InboxItem(LiveReader(r.app().views()), r.practice, id);
  return Json(200, InboxJson(n.value_or(json::object())));
}

// GET transactions[?limit=&cursor=&as_of=]: newest first, a page at a time.
HttpResponse Transactions(Request& r) {
  size_t limit = 50;
  if (auto l = r.Query("limit")) {
    char* end = nullptr;
    long v = std::strtol(l->c_str(), &end, 10);
    if (l->empty() || *end != '\0' || v < 1 || v > 500) {
      Fail("limit must be an integer from 1 to 500");
    }
    limit = static_cast<size_t>(v);
  }
  std::string cursor = r.Query("cursor").value_or("");
  json page;
  bool ok = false;
  if (auto as_of = r.Query("as_of")) {
    // As the list stood then: the practice's events folded up to that moment.
    PastViews past;
    if (auto fail = FoldAsOf(r, *as_of, &past)) return *fail;
    ok = TransactionsPage(MemoryReader(past.mem), r.practice, limit, cursor, &page);
    if (ok) page["as_of"] = FormatTime(past.at_us);
  } else {
    ok = TransactionsPage(LiveReader(r.app().views()), r.practice, limit, cursor, &page);
  }
  if (!ok) Fail("bad cursor");
  return Json(200, page);
}

HttpResponse PostToLedger(Request& r) {
  const std::string& id = r.Param("payment_id");
  auto e = r.app().Execute(r.Command("post:" + id), engine::PostPayment{id});
  if (!e.ok() || e->rejection) return FromExec(e);
  auto pv = PaymentRecord(LiveReader(r.app().views()), r.practice, id);
  return Json(200, TransactionJson(pv.value_or(json::object())));
}

}  // namespace

void AddLedgerRoutes(std::vector<Route>* t) {
  using enum Access;
  t->push_back(
      {"GET", "/api/v1/practices/{practice_id}/accounts/{patient_id}/balance", kAuditor, Balance});
  t->push_back({"GET", "/api/v1/practices/{practice_id}/inbox", kStaff, Inbox});
  t->push_back(
      {"POST", "/api/v1/practices/{practice_id}/inbox/{notification_id}/read", kStaff, MarkRead});
  t->push_back({"GET", "/api/v1/practices/{practice_id}/transactions", kAuditor, Transactions});
  t->push_back({"POST", "/api/v1/practices/{practice_id}/payments/{payment_id}/post-to-ledger",
                kStaff, PostToLedger});
  t->push_back({"GET", "/api/v1/practices/{practice_id}/events", kAuditor, Events});
  t->push_back({"GET", "/api/v1/practices/{practice_id}/audit/verify", kAuditor, Verify});
}

}  // namespace remit
