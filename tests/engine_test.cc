// The engine's business rules as tables: commands in, events or rejections out.
#define BOOST_TEST_MODULE engine
#include <boost/test/unit_test.hpp>

#include "engine/engine.h"

using namespace remit;
using namespace remit::engine;

namespace {

struct Step {
  Command command;
  std::string expect;  // "" accepted with events, "unchanged", or a rejection code
  size_t events = 1;
  // The event types in order, when the row names them ("" leaves them unchecked).
  std::string types = "";
  // Minutes after the previous step (the clock of the context), when the rule depends on time.
  int64_t after_minutes = 0;
};

PatientUpserted Patient(const std::string& id, const std::string& guarantor = "") {
  return PatientUpserted{id, "F", "L", "", "", "", guarantor};
}
PatientUpserted Person(const std::string& id, const std::string& first, const std::string& last,
                       const std::string& guarantor = "") {
  return PatientUpserted{id,           first,    last, "(555) 010-2030", "a@example.com",
                         "1985-04-12", guarantor};
}
ChargePosted Charge(const std::string& id, const std::string& patient, Cents c,
                    const std::string& date = "2026-01-01") {
  return ChargePosted{id, patient, c, "x", date};
}
SubmitPayment NewCardPayment(const std::string& patient, const std::string& id, Cents c,
                             bool save = false) {
  SubmitPayment p;
  p.patient_id = patient;
  p.payment_id = id;
  p.amount_cents = c;
  p.processor_token = "tok_" + id;
  p.brand = "visa";
  p.last4 = "4242";
  p.exp_month = 12;
  p.exp_year = 2030;
  p.save_card = save;
  return p;
}

std::string TypesOf(const std::vector<Event>& events) {
  std::string out;
  for (const auto& e : events) out += (out.empty() ? "" : " ") + std::string(TypeName(e.payload));
  return out;
}

// Runs the steps in order against one practice, folding accepted events; returns the state.
PracticeState Run(const std::vector<Step>& steps) {
  PracticeState state;
  int64_t now = 1000;
  int i = 0;
  for (const auto& step : steps) {
    now += 1 + step.after_minutes * kMinuteUs;
    CommandContext ctx{"prac-1", "key-" + std::to_string(i), {}, "test", now};
    Decision d = Decide(state, step.command, ctx);
    BOOST_TEST_CONTEXT("step " << i) {
      if (step.expect.empty()) {
        BOOST_REQUIRE_MESSAGE(!d.rejected(), (d.rejected() ? d.rejection().detail : ""));
        BOOST_TEST(d.events().size() == step.events);
        if (!step.types.empty()) BOOST_TEST(TypesOf(d.events()) == step.types);
        BOOST_TEST(!d.failure.has_value());
      } else if (step.expect == "unchanged") {
        BOOST_REQUIRE(!d.rejected());
        BOOST_TEST(d.events().empty());
        BOOST_TEST((d.outcome == Outcome::kUnchanged));
      } else if (!d.rejected()) {
        // A recorded failure: its events are written, and the caller hears the rejection.
        BOOST_REQUIRE(d.failure.has_value());
        BOOST_TEST(RejectCode(d.failure->reason) == step.expect);
        if (!step.types.empty()) BOOST_TEST(TypesOf(d.events()) == step.types);
      } else {
        BOOST_TEST(RejectCode(d.rejection().reason) == step.expect);
      }
    }
    if (!d.rejected()) {
      uint32_t k = 0;
      for (auto& e : d.events()) {
        BOOST_TEST((e.event_id == DeriveEventId("prac-1", ctx.command_key, k++)));
        BOOST_TEST(e.occurred_at_us == ctx.now_us);
        Evolve(&state, e);
      }
    }
    ++i;
  }
  return state;
}

// The practice, the Doe family (G guarantees D1 and D2) and the Roe family (R alone).
std::vector<Step> Families() {
  return {
      {RegisterPractice{"A", "USD"}, ""},
      {ChangeSettings{true, std::nullopt}, ""},
      {UpsertPatient{Person("G", "Jane", "Doe")}, ""},
      {UpsertPatient{Person("D1", "Sam", "Doe", "G")}, ""},
      {UpsertPatient{Person("D2", "Lily", "Doe", "G")}, ""},
      {UpsertPatient{Person("R", "Rob", "Roe")}, ""},
  };
}

std::vector<Step> operator+(std::vector<Step> a, const std::vector<Step>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// An enrolled Jane ("jane") with an identity grant "id1".
std::vector<Step> Enrolled() {
  return Families() +
         std::vector<Step>{
             {IssueInvite{"G", "inv1", int64_t{1} << 60}, ""},
             {Enroll{"inv1", "jane", "sec1"}, "", 1, "portal_enrolled"},
             {CheckIdentity{"jane", "initials", "JD", "id1"}, "", 1, "identity_verified"},
         };
}

}  // namespace

BOOST_AUTO_TEST_CASE(practice_lifecycle) {
  Run({
      {ChangeSettings{true, std::nullopt}, "not_found"},
      {RegisterPractice{"A", "USD"}, ""},
      {RegisterPractice{"A", "USD"}, "practice_exists"},
      {ChangeSettings{true, std::nullopt}, ""},
      {ChangeSettings{true, std::nullopt}, "unchanged"},
      {ChangeSettings{std::nullopt, true}, ""},
      {IssueToken{"t1", "admin", "x", {}}, ""},
      {RevokeToken{"t1"}, ""},
      {RevokeToken{"t1"}, "unchanged"},
      {RevokeToken{"t2"}, "not_found"},
  });
}

BOOST_AUTO_TEST_CASE(guarantor_rules) {
  Run({
      {RegisterPractice{"A", "USD"}, ""},
      {UpsertPatient{Patient("G")}, ""},
      {UpsertPatient{Patient("G")}, "unchanged"},
      {UpsertPatient{Patient("D", "G")}, ""},
      {UpsertPatient{Patient("X", "NOPE")}, "invalid_guarantor"},
      {UpsertPatient{Patient("X", "D")}, "invalid_guarantor"},
      {UpsertPatient{Patient("X", "X")}, "invalid_guarantor"},
      {UpsertPatient{Patient("G", "D")}, "invalid_guarantor"},
      {UpsertPatient{Patient("H")}, ""},
      {UpsertPatient{Patient("D", "H")}, ""},  // moves to another family
      {UpsertPatient{Patient("G", "H")}, ""},  // G no longer guarantees anyone
  });
}

BOOST_AUTO_TEST_CASE(charges_are_idempotent_by_charge_id) {
  Run({
      {RegisterPractice{"A", "USD"}, ""},
      {PostCharge{Charge("C1", "P1", 100)}, "patient_not_found"},
      {UpsertPatient{Patient("P1")}, ""},
      {PostCharge{Charge("C1", "P1", 100)}, ""},
      {PostCharge{Charge("C1", "P1", 100)}, "unchanged"},
      {PostCharge{Charge("C1", "P1", 101)}, "charge_conflict"},
      // Amounts outside 1..kAmountCentsMax are refused by the engine too, not only the API.
      {PostCharge{Charge("C2", "P1", kAmountCentsMax + 1)}, "invalid_amount"},
      {PostCharge{Charge("C2", "P1", 0)}, "invalid_amount"},
      {PostCharge{Charge("C2", "P1", INT64_MAX)}, "invalid_amount"},
      {PostCharge{Charge("C2", "P1", kAmountCentsMax)}, ""},
      {IssueInvite{"P1", "inv", 5}, ""},
      {IssueInvite{"P2", "inv", 5}, "patient_not_found"},
  });
}

BOOST_AUTO_TEST_CASE(tokens_and_the_inbox) {
  Run({
      {RegisterPractice{"A", "USD"}, ""},
      {IssueToken{"t1", "staff", "desk", {}, 0}, "", 1, "staff_token_issued"},
      {RevokeToken{"t1"}, "", 1, "staff_token_revoked"},
      {MarkNotificationRead{"ntf_nothing"}, "not_found"},
      {RecordAccess{"patients/G", "G"}, "", 1, "record_accessed"},
      {RecordAccess{"patients/G", "G"}, "", 1, "record_accessed"},  // every read is recorded
  });
}

BOOST_AUTO_TEST_CASE(enrolment_invites_and_account_resets) {
  Run(Families() +
      std::vector<Step>{
          {IssueInvite{"G", "inv1", int64_t{1} << 60}, "", 1, "portal_invite_issued"},
          {Enroll{"nope", "jane", "s0"}, "invalid_invite"},
          {Enroll{"inv1", "jane", "s1"}, "", 1, "portal_enrolled"},
          {Enroll{"inv1", "jane", "s2"}, "invalid_invite"},  // used
          {IssueInvite{"R", "inv2", int64_t{1} << 60}, ""},
          {Enroll{"inv2", "jane", "s3"}, "username_taken"},
          {IssueInvite{"R", "inv3", 5}, ""},  // expired by the time it is used
          {Enroll{"inv3", "rob", "s4"}, "invalid_invite"},
          // A re-invite of an enrolled patient: its use ends Jane's live sessions.
          {CheckIdentity{"jane", "initials", "JD", "id1"}, ""},
          {Login{"id1", "jane", true, "ch1"}, "", 1, "password_verified"},
          {VerifyCode{"ch1", 100, "sess1"}, "", 2, "second_factor_verified session_started"},
          {IssueInvite{"G", "inv4", int64_t{1} << 60}, ""},
          {Enroll{"inv4", "jane2", "s5"}, "", 2, "portal_enrolled session_ended"},
          {Logout{"sess1", "logout"}, "unchanged"},  // already ended by the reset
          {Logout{"nope", "logout"}, "unauthorized"},
      });
}

BOOST_AUTO_TEST_CASE(identity_checks_lock_out_after_five_failures) {
  PracticeState s = Run(
      Enrolled() +
      std::vector<Step>{
          {CheckIdentity{"jane", "initials", "XX", "i1"}, "identity_not_verified", 1,
           "identity_failed"},
          {CheckIdentity{"jane", "phone", "5550000000", "i2"}, "identity_not_verified"},
          {CheckIdentity{"jane", "email", "b@example.com", "i3"}, "identity_not_verified"},
          {CheckIdentity{"jane", "initials", "ZZ", "i4"}, "identity_not_verified"},
          {CheckIdentity{"jane", "initials", "YY", "i5"}, "identity_not_verified", 2,
           "identity_failed locked_out"},
          {CheckIdentity{"jane", "initials", "JD", "i6"}, "locked_out"},  // even the right answer
          {CheckIdentity{"jane", "phone", "+1 (555) 010-2030", "i7"}, "", 1, "identity_verified",
           16},
          {CheckIdentity{"jane", "email", "  A@Example.com ", "i8"}, ""},
          {CheckIdentity{"nobody", "initials", "JD", "i9"}, "identity_not_verified"},
      });
  BOOST_TEST(s.identity_grants.count("i7") == 1u);
}

BOOST_AUTO_TEST_CASE(passwords_lock_out_after_ten_failures) {
  std::vector<Step> steps = Enrolled();
  steps.push_back({Login{"nope", "jane", true, "c0"}, "identity_not_verified"});
  for (int i = 1; i <= 9; ++i) {
    steps.push_back(
        {Login{"id1", "jane", false, "c"}, "invalid_credentials", 1, "password_failed"});
  }
  steps.push_back(
      {Login{"id1", "jane", false, "c"}, "invalid_credentials", 2, "password_failed locked_out"});
  steps.push_back({Login{"id1", "jane", true, "c1"}, "locked_out"});
  // The identity grant has run out meanwhile (10 minutes): confirm again, after the lock.
  steps.push_back({CheckIdentity{"jane", "initials", "JD", "id2"}, "", 1, "", 31});
  steps.push_back({Login{"id2", "jane", true, "c2"}, "", 1, "password_verified"});
  PracticeState s = Run(steps);
  BOOST_TEST(s.users.at("jane").password_failures == 0);
}

BOOST_AUTO_TEST_CASE(codes_are_single_use_and_limited_per_challenge_and_per_user) {
  std::vector<Step> steps =
      Enrolled() +
      std::vector<Step>{
          {Login{"id1", "jane", true, "ch1"}, ""},
          {VerifyCode{"ch1", std::nullopt, "s"}, "invalid_code", 1, "second_factor_failed"},
          {VerifyCode{"ch1", 100, "sess1"}, "", 2},
          {VerifyCode{"ch1", 101, "sess2"}, "invalid_code"},  // a challenge is spent once used
          {CheckIdentity{"jane", "initials", "JD", "id2"}, ""},
          {Login{"id2", "jane", true, "ch2"}, ""},
          // The same TOTP step again, on a new challenge: a reused code.
          {VerifyCode{"ch2", 100, "sess3"}, "invalid_code", 1, "second_factor_failed"},
          {VerifyCode{"ch2", 99, "sess3"}, "invalid_code"},  // an older step too
      };
  // Five wrong codes void a challenge (two so far on ch2).
  for (int i = 0; i < 3; ++i)
    steps.push_back({VerifyCode{"ch2", std::nullopt, "x"}, "invalid_code"});
  steps.push_back({VerifyCode{"ch2", 102, "sess4"}, "invalid_code"});  // voided, right code or not
  // Ten wrong codes of a username in 15 minutes, across challenges, lock its second factor:
  // five on ch2 (ch1's was forgotten when ch1 succeeded), four on ch3, the tenth on ch4.
  for (const char* c : {"ch3", "ch4"}) {
    steps.push_back({CheckIdentity{"jane", "initials", "JD", std::string("id-") + c}, ""});
    steps.push_back({Login{std::string("id-") + c, "jane", true, c}, ""});
    for (int i = 0; i < (std::string(c) == "ch3" ? 4 : 1); ++i) {
      steps.push_back({VerifyCode{c, std::nullopt, "x"}, "invalid_code", 1});
    }
  }
  steps.back().events = 2;
  steps.back().types = "second_factor_failed locked_out";
  steps.push_back({CheckIdentity{"jane", "initials", "JD", "id5"}, ""});
  steps.push_back({Login{"id5", "jane", true, "ch5"}, ""});
  steps.push_back({VerifyCode{"ch5", 200, "s5"}, "locked_out"});
  steps.push_back({CheckIdentity{"jane", "initials", "JD", "id6"}, "", 1, "", 31});
  steps.push_back({Login{"id6", "jane", true, "ch6"}, ""});
  steps.push_back({VerifyCode{"ch6", 201, "s6"}, "", 2});
  PracticeState s = Run(steps);
  BOOST_TEST(s.users.at("jane").last_totp_step == 201);
}

BOOST_AUTO_TEST_CASE(payments_allocate_oldest_first_across_the_family) {
  SubmitPayment saved;
  saved.patient_id = "G";
  saved.payment_id = "p3";
  saved.amount_cents = 500;
  saved.card_id = "card1";
  PracticeState s = Run(
      Families() +
      std::vector<Step>{
          {PostCharge{Charge("C-new", "G", 1000, "2026-05-01")}, ""},
          {PostCharge{Charge("C-old", "D1", 3000, "2026-01-10")}, ""},
          {PostCharge{Charge("C-mid", "D2", 2000, "2026-03-01")}, ""},
          {PostCharge{Charge("C-roe", "R", 700, "2026-01-01")}, ""},
          {NewCardPayment("G", "p1", 6001), "amount_exceeds_balance"},
          {NewCardPayment("G", "p1", 0), "invalid_amount"},
          {NewCardPayment("NOPE", "p1", 10), "patient_not_found"},
          {NewCardPayment("G", "p1", 3500, /*save=*/true), "", 1, "payment_submitted"},
          {NewCardPayment("G", "p1", 3500, true), "unchanged"},  // the same payment again
          // 3,500 is in flight: only 2,500 more can be paid.
          {NewCardPayment("D1", "p2", 3001),
           "amount_exceeds_balance"},  // a dependent owes only their own
          {NewCardPayment("G", "p2", 2501), "amount_exceeds_balance"},
          {PostPayment{"p1"}, "not_postable"},
          {RecordPaymentOutcome{"p1", true, "ref1", "", "card1"}, "", 2,
           "payment_succeeded card_saved"},
          {RecordPaymentOutcome{"p1", false, "", "declined", ""}, "unchanged"},
          {PostPayment{"p1"}, "", 1, "payment_posted"},
          {PostPayment{"p1"}, "unchanged"},  // a double post posts once
          {PostPayment{"nope"}, "not_found"},
          {saved, "", 1, "payment_submitted"},
          {RecordPaymentOutcome{"p3", false, "", "card_declined", ""}, "", 1, "payment_declined"},
          {PostPayment{"p3"}, "not_postable"},
          {RemoveCard{"D1", "card1"}, "card_not_found"},  // another patient's card
          {RemoveCard{"G", "card1"}, "", 1, "card_removed"},
          {saved, "unchanged"},  // p3 exists
      });
  // 3,500 went to C-old (3,000, the oldest) and 500 to C-mid; the Roe charge is untouched.
  BOOST_TEST(s.charges.at("C-old").open_cents == 0);
  BOOST_TEST(s.charges.at("C-mid").open_cents == 1500);
  BOOST_TEST(s.charges.at("C-new").open_cents == 1000);
  BOOST_TEST(s.charges.at("C-roe").open_cents == 700);
  BOOST_TEST(AmountDue(s, "G") == 2500);
  BOOST_TEST(AmountDue(s, "D1") == 0);
  BOOST_TEST(s.cards.at("card1").removed);
}

BOOST_AUTO_TEST_CASE(automatic_posting_and_unapplied_credit) {
  PracticeState s = Run(
      Families() + std::vector<Step>{
                       {ChangeSettings{std::nullopt, true}, ""},
                       {PostCharge{Charge("C1", "D1", 1000, "2026-02-01")}, ""},
                       {PostCharge{Charge("C2", "G", 500, "2026-01-01")}, ""},
                       {NewCardPayment("G", "p1", 1500), ""},
                       {RecordPaymentOutcome{"p1", true, "ref", "", ""}, "", 2,
                        "payment_succeeded payment_posted"},
                       {PostPayment{"p1"}, "unchanged"},
                       {NewCardPayment("G", "p2", 1), "amount_exceeds_balance"},  // nothing is due
                   });
  BOOST_TEST(s.charges.at("C1").open_cents == 0);
  BOOST_TEST(s.charges.at("C2").open_cents == 0);
  BOOST_TEST(s.credits.count("G") == 0u);
  BOOST_TEST(AmountDue(s, "G") == 0);

  // A posting larger than what is open leaves unapplied credit on the guarantor, and the
  // allocation adds up to the payment.
  PracticeState t = Run(Families() + std::vector<Step>{
                                         {PostCharge{Charge("C1", "D2", 800)}, ""},
                                     });
  PaymentState pay;
  pay.submitted.payment_id = "p9";
  pay.submitted.patient_id = "G";
  pay.submitted.guarantor_id = "G";
  pay.submitted.amount_cents = 1000;
  pay.status = PaymentStatus::kSucceeded;
  PaymentPosted posted = Allocate(t, pay);
  BOOST_REQUIRE(posted.allocations.size() == 1u);
  BOOST_TEST(posted.allocations[0].charge_id == "C1");
  BOOST_TEST(posted.allocations[0].amount_cents == 800);
  BOOST_TEST(posted.unapplied_cents == 200);
  Event e;
  e.payload = posted;
  e.occurred_at_us = 5000;
  Evolve(&t, e);
  BOOST_TEST(t.credits.at("G") == 200);
  BOOST_TEST(PatientBalance(t, "G") == -200);
}

BOOST_AUTO_TEST_CASE(payments_need_the_practice_to_take_them) {
  Run({
      {RegisterPractice{"A", "USD"}, ""},
      {UpsertPatient{Patient("G")}, ""},
      {PostCharge{Charge("C1", "G", 100)}, ""},
      {NewCardPayment("G", "p1", 100), "payments_disabled"},
      {ChangeSettings{true, std::nullopt}, ""},
      {NewCardPayment("G", "p1", 100), ""},
  });
}

BOOST_AUTO_TEST_CASE(decisions_are_deterministic) {
  PracticeState s;
  CommandContext ctx{"prac-1", "k", {}, "t", 42};
  Decision a = Decide(s, RegisterPractice{"A", "USD"}, ctx);
  Decision b = Decide(s, RegisterPractice{"A", "USD"}, ctx);
  Hash256 zero{};
  BOOST_TEST(Seal(&a.events()[0], zero) == Seal(&b.events()[0], zero));
}
