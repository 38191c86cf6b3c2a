// Payments and cards: a payment's submission, the processor's answer, posting to the
// ledger, removing a saved card.
#include "engine/decide.h"

namespace remit::engine {

Decision DecideCommand(const PracticeState& s, const SubmitPayment& c, const CommandContext& ctx) {
  if (auto existing = s.payments.find(c.payment_id); existing != s.payments.end()) {
    // The same request again (its id comes from the idempotency key): nothing new.
    return Unchanged();
  }
  if (!s.portal_payments_enabled) {
    return Rejected(Reject::kPaymentsDisabled, "this practice does not take portal payments");
  }
  if (!s.patients.contains(c.patient_id)) {
    return Rejected(Reject::kPatientNotFound, "no patient " + c.patient_id);
  }
  if (!IsValidAmount(c.amount_cents)) {
    return Rejected(Reject::kInvalidAmount,
                    "amount_cents must be 1 to " + std::to_string(kAmountCentsMax));
  }
  PaymentSubmitted p{c.payment_id,   c.patient_id, GuarantorOf(s, c.patient_id),
                     c.amount_cents, c.card_id,    c.brand,
                     c.last4,        c.save_card,  c.processor_token,
                     c.exp_month,    c.exp_year};
  if (!c.card_id.empty()) {
    auto card = s.cards.find(c.card_id);
    if (card == s.cards.end() || card->second.removed ||
        card->second.card.patient_id != c.patient_id) {
      return Rejected(Reject::kCardNotFound, "no saved card " + c.card_id);
    }
    const CardSaved& k = card->second.card;
    p.card_brand = k.brand;
    p.card_last4 = k.last4;
    p.processor_token = k.processor_token;
    p.exp_month = k.exp_month;
    p.exp_year = k.exp_year;
    p.save_card = false;
  }
  Cents due = AmountDue(s, c.patient_id);
  if (c.amount_cents > due) {
    return Rejected(Reject::kAmountExceedsBalance,
                    "the most you can pay now is " + std::to_string(due) + " cents");
  }
  return Emit(ctx, {p});
}

Decision DecideCommand(const PracticeState& s, const RecordPaymentOutcome& c,
                       const CommandContext& ctx) {
  auto it = s.payments.find(c.payment_id);
  if (it == s.payments.end()) return Rejected(Reject::kPaymentNotFound, "no payment");
  if (it->second.status != PaymentStatus::kSubmitted) {
    return Unchanged();
  }
  if (!c.succeeded) return Emit(ctx, {PaymentDeclined{c.payment_id, c.decline_reason}});
  std::vector<Payload> events = {PaymentSucceeded{c.payment_id, c.processor_ref}};
  const PaymentSubmitted& p = it->second.submitted;
  if (p.save_card && p.card_id.empty() && !c.new_card_id.empty()) {
    events.push_back(CardSaved{c.new_card_id, p.patient_id, p.processor_token, p.card_brand,
                               p.card_last4, p.exp_month, p.exp_year});
  }
  if (s.auto_post_to_ledger) {
    PaymentState succeeded = it->second;
    succeeded.status = PaymentStatus::kSucceeded;
    PaymentPosted posted = Allocate(s, succeeded);
    posted.posted_by = "auto";
    events.push_back(posted);
  }
  return Emit(ctx, std::move(events));
}

Decision DecideCommand(const PracticeState& s, const PostPayment& c, const CommandContext& ctx) {
  auto it = s.payments.find(c.payment_id);
  if (it == s.payments.end()) {
    return Rejected(Reject::kPaymentNotFound, "no payment " + c.payment_id);
  }
  if (it->second.status != PaymentStatus::kSucceeded) {
    return Rejected(Reject::kNotPostable, "only a succeeded payment can be posted");
  }
  if (it->second.posted) return Unchanged();
  PaymentPosted posted = Allocate(s, it->second);
  posted.posted_by = ctx.actor;
  return Emit(ctx, {posted}, Outcome::kUpdated);
}

Decision DecideCommand(const PracticeState& s, const RemoveCard& c, const CommandContext& ctx) {
  auto it = s.cards.find(c.card_id);
  if (it == s.cards.end() || it->second.removed || it->second.card.patient_id != c.patient_id) {
    return Rejected(Reject::kCardNotFound, "no saved card " + c.card_id);
  }
  return Emit(ctx, {CardRemoved{c.card_id, c.patient_id}}, Outcome::kUpdated);
}

}  // namespace remit::engine
