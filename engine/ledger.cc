// The family view's arithmetic on the decision state: who a patient sees, balances, what is
// due, and how a posting is allocated (oldest service date first; the rest is credit).
#include "engine/state.h"

#include <algorithm>

#include "events/check.h"

namespace remit::engine {
namespace {

bool PaymentCountsAsPending(const PaymentState& p) {
  return p.status == PaymentStatus::kSubmitted ||
         (p.status == PaymentStatus::kSucceeded && !p.posted);
}

}  // namespace

std::string GuarantorOf(const PracticeState& s, const std::string& patient_id) {
  auto it = s.patients.find(patient_id);
  if (it == s.patients.end()) return {};
  return it->second.record.guarantor_id.empty() ? patient_id : it->second.record.guarantor_id;
}

std::vector<std::string> ViewMembers(const PracticeState& s, const std::string& patient_id) {
  auto it = s.patients.find(patient_id);
  if (it == s.patients.end()) return {};
  std::vector<std::string> members = {patient_id};
  if (!it->second.record.guarantor_id.empty()) return members;
  for (const auto& [id, p] : s.patients) {
    if (p.record.guarantor_id == patient_id) members.push_back(id);
  }
  return members;
}

Cents PatientBalance(const PracticeState& s, const std::string& patient_id) {
  Cents b = 0;
  for (const auto& [id, c] : s.charges) {
    if (c.patient_id == patient_id) b = AddCents(b, c.open_cents);
  }
  auto credit = s.credits.find(patient_id);
  if (credit != s.credits.end()) b = SubCents(b, credit->second);
  return b;
}

Cents AmountDue(const PracticeState& s, const std::string& patient_id) {
  auto members = ViewMembers(s, patient_id);
  Cents due = 0;
  for (const auto& m : members) due = AddCents(due, PatientBalance(s, m));
  for (const auto& [id, p] : s.payments) {
    if (!PaymentCountsAsPending(p)) continue;
    if (std::find(members.begin(), members.end(), p.submitted.patient_id) != members.end()) {
      due = SubCents(due, p.submitted.amount_cents);
    }
  }
  return std::max<Cents>(0, due);
}

PaymentPosted Allocate(const PracticeState& s, const PaymentState& payment) {
  const PaymentSubmitted& p = payment.submitted;
  auto members = ViewMembers(s, p.patient_id);
  std::vector<std::pair<std::pair<std::string, std::string>, const ChargeState*>> open;
  for (const auto& [id, c] : s.charges) {
    if (c.open_cents <= 0) continue;
    if (std::find(members.begin(), members.end(), c.patient_id) == members.end()) continue;
    open.push_back({{c.service_date, id}, &c});
  }
  std::sort(open.begin(), open.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  PaymentPosted out;
  out.payment_id = p.payment_id;
  out.guarantor_id = p.guarantor_id;
  Cents left = p.amount_cents;
  for (const auto& [key, c] : open) {
    if (left == 0) break;
    Cents take = std::min(left, c->open_cents);
    out.allocations.push_back({key.second, c->patient_id, take});
    left -= take;
  }
  out.unapplied_cents = left;
  Cents total = out.unapplied_cents;
  for (const auto& a : out.allocations) total = AddCents(total, a.amount_cents);
  REMIT_CHECK(total == p.amount_cents && left >= 0, "posting does not balance");
  return out;
}

std::string NotificationIdFor(const std::string& payment_id) { return "ntf_" + payment_id; }

}  // namespace remit::engine
