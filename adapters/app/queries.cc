#include "adapters/app/queries.h"

#include <algorithm>

#include "projections/projections.h"

namespace remit {

using nlohmann::json;
namespace pj = projections;

Reader LiveReader(ViewStore& v) {
  return Reader{
      [&v](std::string_view k) { return v.Get(k); },
      [&v](std::string_view p, const std::function<bool(std::string_view, std::string_view)>& fn,
           std::string_view start) { v.Scan(p, fn, start); }};
}

Reader MemoryReader(const MemoryViewTxn& m) {
  return Reader{
      [&m](std::string_view k) -> std::optional<std::string> {
        auto it = m.data().find(k);
        if (it == m.data().end()) return std::nullopt;
        return it->second;
      },
      [&m](std::string_view p, const std::function<bool(std::string_view, std::string_view)>& fn,
           std::string_view start) {
        for (auto it = m.data().lower_bound(start.empty() ? p : start); it != m.data().end();
             ++it) {
          if (!std::string_view(it->first).starts_with(p)) break;
          if (!fn(it->first, it->second)) break;
        }
      }};
}

std::optional<json> Record(const Reader& r, std::string_view key) {
  auto v = r.get(key);
  if (!v) return std::nullopt;
  json j = json::parse(*v, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  return j;
}

std::optional<json> PracticeRecord(const Reader& r, const std::string& practice) {
  return Record(r, pj::PracticeKey(practice));
}

std::vector<std::string> PracticeIds(const Reader& r) {
  std::vector<std::string> out;
  const std::string prefix = pj::PracticeKey("");
  r.scan(prefix,
         [&](std::string_view key, std::string_view) {
           out.emplace_back(key.substr(prefix.size()));
           return true;
         },
         {});
  return out;
}

std::optional<json> StaffTokenRecord(const Reader& r, const std::string& token_sha256_hex) {
  return Record(r, pj::TokenKey(token_sha256_hex));
}

std::optional<json> SessionRecord(const Reader& r, const std::string& session_id) {
  return Record(r, pj::SessionKey(session_id));
}

std::optional<json> PaymentRecord(const Reader& r, const std::string& practice,
                                  const std::string& payment_id) {
  return Record(r, pj::PaymentKey(practice, payment_id));
}

std::vector<json> InboxItems(const Reader& r, const std::string& practice, bool only_unread,
                             size_t limit) {
  std::vector<json> items;
  r.scan(pj::InboxPrefix(practice),
         [&](std::string_view, std::string_view v) {
           json n = json::parse(v, nullptr, false);
           if (!n.is_object() || (only_unread && n.value("read", false))) return true;
           items.push_back(std::move(n));
           return items.size() < limit;
         },
         {});
  return items;
}

std::optional<json> InboxItem(const Reader& r, const std::string& practice,
                              const std::string& notification_id) {
  auto key = r.get(pj::InboxIdKey(practice, notification_id));
  if (!key) return std::nullopt;
  return Record(r, *key);
}

std::vector<json> SavedCards(const Reader& r, const std::string& practice,
                             const std::string& patient_id) {
  std::vector<json> cards;
  r.scan(pj::CardPrefix(practice, patient_id),
         [&](std::string_view, std::string_view v) {
           json c = json::parse(v, nullptr, false);
           if (c.is_object()) cards.push_back(std::move(c));
           return true;
         },
         {});
  return cards;
}

json SettingsJson(const json& practice) {
  return json{{"portal_payments_enabled", practice.value("portal_payments_enabled", false)},
              {"auto_post_to_ledger", practice.value("auto_post_to_ledger", false)},
              {"currency", practice.value("currency", "USD")},
              {"name", practice.value("name", "")}};
}

// The family view of spec/api.md for `patient_id`; nullopt when the patient is unknown.
std::optional<json> FamilyView(const Reader& r, const std::string& practice,
                               const std::string& patient_id) {
  auto pr = r.get(pj::PracticeKey(practice));
  auto pt = r.get(pj::PatientKey(practice, patient_id));
  if (!pr || !pt) return std::nullopt;
  json practice_j = json::parse(*pr);
  json patient = json::parse(*pt);
  auto balance = [&](const std::string& id) {
    auto b = r.get(pj::BalanceKey(practice, id));
    return b ? pj::DecodeCents(*b) : 0;
  };
  json members = json::array();
  std::string guarantor = patient.value("guarantor_id", "");
  Cents total = 0;
  auto add = [&](const json& p, const char* relationship) {
    Cents b = balance(p.value("patient_id", ""));
    total = AddCents(total, b);
    members.push_back({{"patient_id", p.value("patient_id", "")},
                       {"first_name", p.value("first_name", "")},
                       {"last_name", p.value("last_name", "")},
                       {"relationship", relationship},
                       {"balance_cents", b}});
  };
  if (!guarantor.empty()) {
    add(patient, "dependent");
  } else {
    guarantor = patient_id;
    add(patient, "self");
    std::vector<std::string> deps;
    std::string prefix = pj::DependentPrefix(practice, patient_id);
    r.scan(prefix,
           [&](std::string_view k, std::string_view) {
             deps.emplace_back(k.substr(prefix.size()));
             return true;
           },
           {});
    for (const auto& d : deps) {
      auto dv = r.get(pj::PatientKey(practice, d));
      if (dv) add(json::parse(*dv), "dependent");
    }
  }
  json pending = json::array();
  Cents pending_total = 0;
  for (const auto& m : members) {
    std::string prefix = pj::PendingPrefix(practice, m["patient_id"].get<std::string>());
    std::vector<std::string> ids;
    r.scan(prefix,
           [&](std::string_view, std::string_view v) {
             ids.emplace_back(v);
             return true;
           },
           {});
    for (const auto& id : ids) {
      auto pv = r.get(pj::PaymentKey(practice, id));
      if (!pv) continue;
      json p = json::parse(*pv);
      pending_total = AddCents(pending_total, p.value("amount_cents", Cents{0}));
      pending.push_back({{"payment_id", id},
                         {"patient_id", p["patient_id"]},
                         {"amount_cents", p["amount_cents"]},
                         {"submitted_at", FormatTime(p.value("submitted_at_us", int64_t{0}))},
                         {"card_brand", p["card_brand"]},
                         {"card_last4", p["card_last4"]}});
    }
  }
  return json{{"currency", practice_j.value("currency", "USD")},
              {"payments_enabled", practice_j.value("portal_payments_enabled", false)},
              {"guarantor_id", guarantor},
              {"members", members},
              {"total_balance_cents", total},
              {"pending_payments", pending},
              {"amount_due_cents", std::max<Cents>(0, SubCents(total, pending_total))}};
}

// Folds practice `practice`'s events up to `as_of_us` into memory, with the same projections
// that build the live views.
Status FoldAsOf(EventLog& log, const std::string& practice, int64_t as_of_us, MemoryViewTxn* out) {
  auto projections = pj::AllProjections();
  return ForEachEvent(log, practice, [&](uint64_t offset, const Event& ev) {
    if (ev.occurred_at_us > as_of_us) return false;
    for (auto& p : projections) p->Apply(*out, offset, ev);
    return true;
  });
}

json TransactionJson(const json& p) {
  auto time_or_null = [](const json& v) {
    return v.is_number() ? json(FormatTime(v.get<int64_t>())) : json(nullptr);
  };
  return json{{"payment_id", p["payment_id"]},
              {"patient_id", p["patient_id"]},
              {"guarantor_id", p["guarantor_id"]},
              {"patient_name", p["patient_name"]},
              {"amount_cents", p["amount_cents"]},
              {"status", p["status"]},
              {"ledger_status", p["status"] == "succeeded" ? p["ledger_status"] : json(nullptr)},
              {"card_brand", p["card_brand"]},
              {"card_last4", p["card_last4"]},
              {"submitted_at", time_or_null(p["submitted_at_us"])},
              {"posted_at", time_or_null(p["posted_at_us"])},
              {"decline_reason", p["decline_reason"]}};
}

bool TransactionsPage(const Reader& r, const std::string& practice, size_t limit,
                      const std::string& cursor_in, json* page) {
  std::string prefix = pj::TransactionPrefix(practice);
  std::string start;
  if (!cursor_in.empty()) {
    // The cursor names the last key of the previous page ('/' written as '.').
    std::string cursor = cursor_in;
    if (cursor.find('/') != std::string::npos || cursor.size() > 200) return false;
    std::replace(cursor.begin(), cursor.end(), '.', '/');
    start = prefix + cursor;
    start.push_back('\0');  // the first key after the cursor's
  }
  json items = json::array();
  std::string last;
  bool more = false;
  r.scan(
      prefix,
      [&](std::string_view k, std::string_view v) {
        if (items.size() == limit) {
          more = true;
          return false;
        }
        auto pv = r.get(pj::PaymentKey(practice, v));
        if (pv) items.push_back(TransactionJson(json::parse(*pv)));
        last = std::string(k.substr(prefix.size()));
        return true;
      },
      start);
  std::replace(last.begin(), last.end(), '/', '.');
  *page = json{{"items", items}, {"next_cursor", more ? json(last) : json(nullptr)}};
  return true;
}

}  // namespace remit
