#include "projections/projections.h"

#include <cstring>
#include <nlohmann/json.hpp>

namespace remit::projections {
namespace {

using nlohmann::json;

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

std::string Join(std::initializer_list<std::string_view> parts) {
  std::string k;
  for (auto p : parts) {
    if (!k.empty()) k.push_back('/');
    k.append(p);
  }
  return k;
}

json Load(ViewTxn& txn, std::string_view key) {
  auto v = txn.Get(key);
  return v ? json::parse(*v) : json::object();
}

void AddCents(ViewTxn& txn, const std::string& key, int64_t delta) {
  auto v = txn.Get(key);
  int64_t now = v ? DecodeCents(*v) : 0;
  txn.Put(key, EncodeCents(now + delta));
}

// Practices, their settings and their staff tokens.
class PracticesProjection final : public Projection {
 public:
  std::string_view name() const override { return "practices"; }
  void Apply(ViewTxn& txn, uint64_t offset, const Event& e) override {
    const std::string& pid = e.practice_id;
    std::visit(Overloaded{
                   [&](const PracticeRegistered& p) {
                     json j = {{"practice_id", pid},
                               {"name", p.name},
                               {"currency", p.currency},
                               {"portal_payments_enabled", false},
                               {"auto_post_to_ledger", false},
                               {"created_at_us", e.occurred_at_us}};
                     txn.Put(PracticeKey(pid), j.dump());
                   },
                   [&](const SettingsChanged& p) {
                     json j = Load(txn, PracticeKey(pid));
                     j["portal_payments_enabled"] = p.portal_payments_enabled;
                     j["auto_post_to_ledger"] = p.auto_post_to_ledger;
                     txn.Put(PracticeKey(pid), j.dump());
                   },
                   [&](const StaffTokenIssued& p) {
                     std::string sha = Hex(p.token_sha256);
                     json j = {{"practice_id", pid}, {"token_id", p.token_id},
                               {"role", p.role},     {"label", p.label},
                               {"revoked", false}};
                     txn.Put(TokenKey(sha), j.dump());
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
              json j = {{"patient_id", p.patient_id},   {"first_name", p.first_name},
                        {"last_name", p.last_name},     {"phone", p.phone},
                        {"email", p.email},             {"date_of_birth", p.date_of_birth},
                        {"guarantor_id", p.guarantor_id}};
              txn.Put(key, j.dump());
              if (!p.guarantor_id.empty()) {
                txn.Put(DependentPrefix(pid, p.guarantor_id) + p.patient_id, "");
              }
              std::string bal = BalanceKey(pid, p.patient_id);
              if (!txn.Get(bal)) txn.Put(bal, EncodeCents(0));
            },
            [&](const ChargePosted& p) {
              AddCents(txn, BalanceKey(pid, p.patient_id), p.amount_cents);
            },
            [&](const PortalInviteIssued& p) {
              json j = {{"patient_id", p.patient_id}, {"expires_at_us", p.expires_at_us}};
              txn.Put(Join({"accounts/v", pid, p.invite_id}), j.dump());
            },
            [&](const PaymentPosted& p) {
              for (const auto& a : p.allocations) {
                AddCents(txn, BalanceKey(pid, a.patient_id), -a.amount_cents);
              }
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
std::string BalanceKey(std::string_view practice, std::string_view patient) {
  return Join({"accounts/b", practice, patient});
}

}  // namespace remit::projections
