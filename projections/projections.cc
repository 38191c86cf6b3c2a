#include "projections/projections.h"

#include "events/overloaded.h"
#include "projections/json_object.h"

#include <array>
#include <cstring>
#include <nlohmann/json.hpp>

namespace remit::projections {
namespace {

using nlohmann::json;

// A key joined with '/' into a buffer on the stack (a longer one moves to the heap): a charge's
// fold builds its balance key twice (prefetch and apply), and a heap string per key cost about
// as much as the rest of the fold.
class StackKey {
 public:
  StackKey(std::initializer_list<std::string_view> parts) {
    for (auto p : parts) {
      if (size_ > 0) Add("/");
      Add(p);
    }
  }
  operator std::string_view() const {  // NOLINT: a key is used where a string_view is
    return heap_.empty() ? std::string_view(inline_.data(), size_) : std::string_view(heap_);
  }

 private:
  void Add(std::string_view s) {
    if (heap_.empty() && size_ + s.size() <= inline_.size()) {
      if (!s.empty()) std::memcpy(inline_.data() + size_, s.data(), s.size());
      size_ += s.size();
      return;
    }
    if (heap_.empty()) heap_.assign(inline_.data(), size_);
    heap_.append(s);
    size_ = heap_.size();
  }

  std::array<char, 128> inline_;
  size_t size_ = 0;
  std::string heap_;
};

std::string Join(std::initializer_list<std::string_view> parts) {
  return std::string(std::string_view(StackKey(parts)));
}

StackKey BalanceStackKey(std::string_view practice, std::string_view patient) {
  return StackKey({"accounts/b", practice, patient});
}

json Load(ViewTxn& txn, std::string_view key) {
  auto v = txn.Get(key);
  return v ? json::parse(*v) : json::object();
}

// Balances saturate (types.h): no history can overflow one.
void RaiseBalance(ViewTxn& txn, std::string_view key, Cents amount) {
  auto v = txn.Get(key);
  txn.Put(key, EncodeCents(AddCents(v ? DecodeCents(*v) : 0, amount)));
}
void LowerBalance(ViewTxn& txn, std::string_view key, Cents amount) {
  auto v = txn.Get(key);
  txn.Put(key, EncodeCents(SubCents(v ? DecodeCents(*v) : 0, amount)));
}

// Practices, their settings and their staff tokens.
class PracticesProjection final : public Projection {
 public:
  std::string_view name() const override { return "practices"; }
  void Apply(ViewTxn& txn, uint64_t offset, const Event& e) override {
    const std::string& pid = e.practice_id;
    std::visit(Overloaded{
                   [&](const PracticeRegistered& p) {
                     std::string j = JsonObject()
                                         .Str("practice_id", pid)
                                         .Str("name", p.name)
                                         .Str("currency", p.currency)
                                         .Bool("portal_payments_enabled", false)
                                         .Bool("auto_post_to_ledger", false)
                                         .Int("created_at_us", e.occurred_at_us)
                                         .Dump();
                     txn.Put(PracticeKey(pid), j);
                   },
                   [&](const SettingsChanged& p) {
                     json j = Load(txn, PracticeKey(pid));
                     j["portal_payments_enabled"] = p.portal_payments_enabled;
                     j["auto_post_to_ledger"] = p.auto_post_to_ledger;
                     txn.Put(PracticeKey(pid), j.dump());
                   },
                   [&](const StaffTokenIssued& p) {
                     std::string sha = Hex(p.token_sha256);
                     JsonObject o;
                     o.Str("practice_id", pid)
                         .Str("token_id", p.token_id)
                         .Str("role", p.role)
                         .Str("label", p.label)
                         .Bool("revoked", false);
                     if (p.expires_at_us != 0) o.Int("expires_at_us", p.expires_at_us);
                     std::string j = o.Dump();
                     txn.Put(TokenKey(sha), j);
                     txn.Put(TokenIdKey(pid, p.token_id), sha);
                   },
                   [&](const StaffTokenRevoked& p) {
                     auto sha = txn.Get(TokenIdKey(pid, p.token_id));
                     if (!sha) return;
                     json j = Load(txn, TokenKey(*sha));
                     j["revoked"] = true;
                     txn.Put(TokenKey(*sha), j.dump());
                   },
                   [&](const auto&) {},
               },
               e.payload);
  }
};

// Patients, families, balances and charges.
class AccountsProjection final : public Projection {
 public:
  std::string_view name() const override { return "accounts"; }
  void Prefetch(ViewTxn& txn, const Event& e) override {
    if (const auto* p = std::get_if<ChargePosted>(&e.payload)) {
      txn.Prefetch(BalanceStackKey(e.practice_id, p->patient_id));
    } else if (const auto* u = std::get_if<PatientUpserted>(&e.payload)) {
      txn.Prefetch(PatientKey(e.practice_id, u->patient_id));
      txn.Prefetch(BalanceStackKey(e.practice_id, u->patient_id));
    } else if (const auto* posted = std::get_if<PaymentPosted>(&e.payload)) {
      for (const auto& a : posted->allocations)
        txn.Prefetch(BalanceStackKey(e.practice_id, a.patient_id));
    }
  }
  void Apply(ViewTxn& txn, uint64_t offset, const Event& e) override {
    const std::string& pid = e.practice_id;
    std::visit(
        Overloaded{
            [&](const PatientUpserted& p) {
              std::string key = PatientKey(pid, p.patient_id);
              json old = Load(txn, key);
              if (old.contains("guarantor_id") && !old["guarantor_id"].get<std::string>().empty()) {
                txn.Delete(DependentPrefix(pid, old["guarantor_id"].get<std::string>()) +
                           p.patient_id);
              }
              txn.Put(key, JsonObject()
                               .Str("patient_id", p.patient_id)
                               .Str("first_name", p.first_name)
                               .Str("last_name", p.last_name)
                               .Str("phone", p.phone)
                               .Str("email", p.email)
                               .Str("date_of_birth", p.date_of_birth)
                               .Str("guarantor_id", p.guarantor_id)
                               .Dump());
              if (!p.guarantor_id.empty()) {
                txn.Put(DependentPrefix(pid, p.guarantor_id) + p.patient_id, "");
              }
              StackKey bal = BalanceStackKey(pid, p.patient_id);
              if (!txn.Get(bal)) txn.Put(bal, EncodeCents(0));
            },
            [&](const ChargePosted& p) {
              RaiseBalance(txn, BalanceStackKey(pid, p.patient_id), p.amount_cents);
            },
            [&](const PortalInviteIssued& p) {
              txn.Put(Join({"accounts/v", pid, p.invite_id}),
                      JsonObject()
                          .Str("patient_id", p.patient_id)
                          .Int("expires_at_us", p.expires_at_us)
                          .Dump());
            },
            [&](const PaymentPosted& p) {
              for (const auto& a : p.allocations) {
                LowerBalance(txn, BalanceStackKey(pid, a.patient_id), a.amount_cents);
              }
              if (p.unapplied_cents > 0) {
                LowerBalance(txn, BalanceStackKey(pid, p.guarantor_id), p.unapplied_cents);
              }
            },
            [&](const auto&) {},
        },
        e.payload);
  }
};

// Payments: each payment, the transactions list (newest first), the family's pending line
// items, the practice's inbox, cards on file, and portal sessions.
class PaymentsProjection final : public Projection {
 public:
  std::string_view name() const override { return "payments"; }
  void Prefetch(ViewTxn& txn, const Event& e) override {
    std::visit(
        Overloaded{
            [&](const PaymentSucceeded& p) {
              txn.Prefetch(PaymentKey(e.practice_id, p.payment_id));
            },
            [&](const PortalInviteIssued& p) {
              if (p.account_reset) txn.Prefetch(PatientKey(e.practice_id, p.patient_id));
            },
            [&](const PaymentDeclined& p) {
              txn.Prefetch(PaymentKey(e.practice_id, p.payment_id));
            },
            [&](const PaymentPosted& p) { txn.Prefetch(PaymentKey(e.practice_id, p.payment_id)); },
            [&](const auto&) {},
        },
        e.payload);
  }
  void Apply(ViewTxn& txn, uint64_t offset, const Event& e) override {
    const std::string& pid = e.practice_id;
    std::visit(
        Overloaded{
            [&](const PaymentSubmitted& p) {
              json patient = Load(txn, PatientKey(pid, p.patient_id));
              std::string name =
                  patient.value("first_name", "") + " " + patient.value("last_name", "");
              txn.Put(PaymentKey(pid, p.payment_id), JsonObject()
                                                         .Str("payment_id", p.payment_id)
                                                         .Str("patient_id", p.patient_id)
                                                         .Str("guarantor_id", p.guarantor_id)
                                                         .Str("patient_name", name)
                                                         .Int("amount_cents", p.amount_cents)
                                                         .Str("status", "submitted")
                                                         .Null("ledger_status")
                                                         .Str("card_brand", p.card_brand)
                                                         .Str("card_last4", p.card_last4)
                                                         .Int("submitted_at_us", e.occurred_at_us)
                                                         .Null("posted_at_us")
                                                         .Null("decline_reason")
                                                         .Dump());
            },
            [&](const PaymentSucceeded& p) {
              json j = Load(txn, PaymentKey(pid, p.payment_id));
              j["status"] = "succeeded";
              j["ledger_status"] = "pending";
              txn.Put(PaymentKey(pid, p.payment_id), j.dump());
              int64_t at = j.value("submitted_at_us", int64_t{0});
              txn.Put(TransactionKey(pid, at, p.payment_id), p.payment_id);
              txn.Put(PendingPrefix(pid, j.value("patient_id", "")) + p.payment_id, p.payment_id);
              std::string nid = "ntf_" + p.payment_id;
              json n = {{"notification_id", nid},
                        {"kind", "payment_received"},
                        {"payment_id", p.payment_id},
                        {"patient_id", j["patient_id"]},
                        {"patient_name", j["patient_name"]},
                        {"amount_cents", j["amount_cents"]},
                        {"created_at_us", e.occurred_at_us},
                        {"read", false}};
              std::string key = InboxItemKey(pid, e.occurred_at_us, nid);
              txn.Put(key, n.dump());
              txn.Put(InboxIdKey(pid, nid), key);
            },
            [&](const PortalInviteIssued& p) {
              if (!p.account_reset) return;
              // Staff replaced a patient's sign-in: the practice sees who did it and for whom.
              json patient = Load(txn, PatientKey(pid, p.patient_id));
              std::string nid = AccountResetNotificationId(p.invite_id);
              json n = {{"notification_id", nid},
                        {"kind", "account_reset"},
                        {"payment_id", nullptr},
                        {"patient_id", p.patient_id},
                        {"patient_name",
                         patient.value("first_name", "") + " " + patient.value("last_name", "")},
                        {"amount_cents", nullptr},
                        {"issued_by", e.actor},
                        {"created_at_us", e.occurred_at_us},
                        {"read", false}};
              std::string key = InboxItemKey(pid, e.occurred_at_us, nid);
              txn.Put(key, n.dump());
              txn.Put(InboxIdKey(pid, nid), key);
            },
            [&](const PaymentDeclined& p) {
              json j = Load(txn, PaymentKey(pid, p.payment_id));
              j["status"] = "declined";
              j["decline_reason"] = p.decline_reason;
              txn.Put(PaymentKey(pid, p.payment_id), j.dump());
              int64_t at = j.value("submitted_at_us", int64_t{0});
              txn.Put(TransactionKey(pid, at, p.payment_id), p.payment_id);
            },
            [&](const PaymentPosted& p) {
              json j = Load(txn, PaymentKey(pid, p.payment_id));
              j["ledger_status"] = "posted";
              j["posted_at_us"] = e.occurred_at_us;
              txn.Put(PaymentKey(pid, p.payment_id), j.dump());
              txn.Delete(PendingPrefix(pid, j.value("patient_id", "")) + p.payment_id);
            },
            [&](const InboxNotificationRead& p) {
              auto key = txn.Get(InboxIdKey(pid, p.notification_id));
              if (!key) return;
              json n = Load(txn, *key);
              n["read"] = true;
              txn.Put(*key, n.dump());
            },
            [&](const CardSaved& p) {
              txn.Put(CardPrefix(pid, p.patient_id) + p.card_id, JsonObject()
                                                                     .Str("card_id", p.card_id)
                                                                     .Str("brand", p.brand)
                                                                     .Str("last4", p.last4)
                                                                     .Int("exp_month", p.exp_month)
                                                                     .Int("exp_year", p.exp_year)
                                                                     .Dump());
            },
            [&](const CardRemoved& p) { txn.Delete(CardPrefix(pid, p.patient_id) + p.card_id); },
            [&](const SessionStarted& p) {
              txn.Put(SessionKey(p.session_id), JsonObject()
                                                    .Str("practice_id", pid)
                                                    .Str("patient_id", p.patient_id)
                                                    .Int("started_at_us", e.occurred_at_us)
                                                    .Int("expires_at_us", p.expires_at_us)
                                                    .Bool("ended", false)
                                                    .Dump());
            },
            [&](const SessionEnded& p) {
              json j = Load(txn, SessionKey(p.session_id));
              j["ended"] = true;
              txn.Put(SessionKey(p.session_id), j.dump());
            },
            [&](const auto&) {},
        },
        e.payload);
  }
};

}  // namespace

std::string EncodeOffset(uint64_t offset) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(offset));
  return std::string(buf, 16);
}

std::string EncodeCents(int64_t cents) {
  std::string s(8, '\0');
  uint64_t u = static_cast<uint64_t>(cents);
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((u >> (8 * i)) & 0xff);
  return s;
}

int64_t DecodeCents(std::string_view b) {
  if (b.size() != 8) return 0;
  uint64_t u = 0;
  for (int i = 7; i >= 0; --i) u = (u << 8) | static_cast<uint8_t>(b[i]);
  return static_cast<int64_t>(u);
}

std::vector<std::unique_ptr<Projection>> AllProjections() {
  std::vector<std::unique_ptr<Projection>> all;
  all.push_back(std::make_unique<PracticesProjection>());
  all.push_back(std::make_unique<AccountsProjection>());
  all.push_back(std::make_unique<PaymentsProjection>());
  return all;
}

std::string PracticeKey(std::string_view practice) { return Join({"practices/p", practice}); }
std::string TokenKey(std::string_view sha) { return Join({"practices/t", sha}); }
std::string TokenIdKey(std::string_view practice, std::string_view token_id) {
  return Join({"practices/i", practice, token_id});
}
std::string PatientKey(std::string_view practice, std::string_view patient) {
  return Join({"accounts/p", practice, patient});
}
std::string DependentPrefix(std::string_view practice, std::string_view guarantor) {
  return Join({"accounts/d", practice, guarantor}) + "/";
}
std::string PaymentKey(std::string_view practice, std::string_view payment) {
  return Join({"payments/p", practice, payment});
}
std::string TransactionPrefix(std::string_view practice) {
  return Join({"payments/t", practice}) + "/";
}
std::string TransactionKey(std::string_view practice, int64_t submitted_at_us,
                           std::string_view payment) {
  // Newest first in key order: the time is stored inverted.
  return TransactionPrefix(practice) +
         EncodeOffset(static_cast<uint64_t>(INT64_MAX - submitted_at_us)) + "/" +
         std::string(payment);
}
std::string PendingPrefix(std::string_view practice, std::string_view patient) {
  return Join({"payments/q", practice, patient}) + "/";
}
std::string InboxPrefix(std::string_view practice) { return Join({"payments/n", practice}) + "/"; }
std::string InboxItemKey(std::string_view practice, int64_t created_at_us,
                         std::string_view notification) {
  return InboxPrefix(practice) + EncodeOffset(static_cast<uint64_t>(INT64_MAX - created_at_us)) +
         "/" + std::string(notification);
}
std::string InboxIdKey(std::string_view practice, std::string_view notification) {
  return Join({"payments/m", practice, notification});
}
std::string CardPrefix(std::string_view practice, std::string_view patient) {
  return Join({"payments/c", practice, patient}) + "/";
}
std::string SessionKey(std::string_view session_id) { return Join({"payments/s", session_id}); }

std::string BalanceKey(std::string_view practice, std::string_view patient) {
  return std::string(std::string_view(BalanceStackKey(practice, patient)));
}

}  // namespace remit::projections
