// The engine: turns a command and a practice's decision state into events or a rejection.
//
// Deterministic: the clock, random ids and the command key come in as inputs (CommandContext);
// it does no I/O. The caller (adapters/app) is the single writer of each practice's stream: it
// holds that practice's lock across Decide, the durable append and Evolve.
//
// The commands, their context and the limits are in commands.h, the business rejections in
// rejection.h, the decision state and the family view's arithmetic in state.h. Decide
// dispatches each command to its own function (decide.h), in files by family: the practice's
// staff (decide_practice.cc), the patient's sign-in (decide_sign_in.cc), payments and cards
// (decide_payments.cc).
// Thread safety: none; a PracticeState is owned by one writer at a time.
#pragma once

#include "engine/commands.h"
#include "engine/rejection.h"
#include "engine/state.h"

namespace remit::engine {

// Decides `cmd` against `state`. Events come back complete but unsealed (no hashes).
Decision Decide(const PracticeState& state, const Command& cmd, const CommandContext& ctx);

}  // namespace remit::engine
