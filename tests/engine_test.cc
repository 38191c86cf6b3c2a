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
};

PatientUpserted Patient(const std::string& id, const std::string& guarantor = "") {
  return PatientUpserted{id, "F", "L", "", "", "", guarantor};
}
ChargePosted Charge(const std::string& id, const std::string& patient, Cents c) {
  return ChargePosted{id, patient, c, "x", "2026-01-01"};
}

// Runs the steps in order against one practice, folding accepted events.
void Run(const std::vector<Step>& steps) {
  PracticeState state;
  int i = 0;
  for (const auto& step : steps) {
    CommandContext ctx{"prac-1", "key-" + std::to_string(i), {}, "test", 1000 + i};
    Decision d = Decide(state, step.command, ctx);
    BOOST_TEST_CONTEXT("step " << i) {
      if (step.expect.empty()) {
        BOOST_REQUIRE(!d.rejected());
        BOOST_TEST(d.events().size() == step.events);
      } else if (step.expect == "unchanged") {
        BOOST_REQUIRE(!d.rejected());
        BOOST_TEST(d.events().empty());
        BOOST_TEST((d.outcome == Outcome::kUnchanged));
      } else {
        BOOST_REQUIRE(d.rejected());
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

BOOST_AUTO_TEST_CASE(decisions_are_deterministic) {
  PracticeState s;
  CommandContext ctx{"prac-1", "k", {}, "t", 42};
  Decision a = Decide(s, RegisterPractice{"A", "USD"}, ctx);
  Decision b = Decide(s, RegisterPractice{"A", "USD"}, ctx);
  Hash256 zero{};
  BOOST_TEST(Seal(&a.events()[0], zero) == Seal(&b.events()[0], zero));
}
