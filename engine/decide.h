// Inside the engine: one DecideCommand per command, which Decide dispatches to, and the helpers
// they share. Not for use outside engine/.
// Thread safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "engine/commands.h"
#include "engine/state.h"

namespace remit::engine {

Decision Rejected(Reject r, std::string detail);
// Nothing to write: the command changes nothing (a replay, a value already set).
Decision Unchanged();
// The decision's events, with ids derived from the command key and their index.
Decision Emit(const CommandContext& ctx, std::vector<Payload> payloads,
              Outcome outcome = Outcome::kCreated);

// The practice's staff (decide_practice.cc).
Decision DecideCommand(const PracticeState& s, const RegisterPractice& c,
                       const CommandContext& ctx);
Decision DecideCommand(const PracticeState& s, const ChangeSettings& c, const CommandContext& ctx);
Decision DecideCommand(const PracticeState& s, const IssueToken& c, const CommandContext& ctx);
Decision DecideCommand(const PracticeState& s, const RevokeToken& c, const CommandContext& ctx);
Decision DecideCommand(const PracticeState& s, const UpsertPatient& c, const CommandContext& ctx);
Decision DecideCommand(const PracticeState& s, const PostCharge& c, const CommandContext& ctx);
Decision DecideCommand(const PracticeState& s, const IssueInvite& c, const CommandContext& ctx);
Decision DecideCommand(const PracticeState& s, const MarkNotificationRead& c,
                       const CommandContext& ctx);
Decision DecideCommand(const PracticeState& s, const RecordAccess& c, const CommandContext& ctx);
// The patient's sign-in (decide_sign_in.cc).
Decision DecideCommand(const PracticeState& s, const Enroll& c, const CommandContext& ctx);
Decision DecideCommand(const PracticeState& s, const CheckIdentity& c, const CommandContext& ctx);
Decision DecideCommand(const PracticeState& s, const Login& c, const CommandContext& ctx);
Decision DecideCommand(const PracticeState& s, const VerifyCode& c, const CommandContext& ctx);
Decision DecideCommand(const PracticeState& s, const Logout& c, const CommandContext& ctx);
// Payments and cards (decide_payments.cc).
Decision DecideCommand(const PracticeState& s, const SubmitPayment& c, const CommandContext& ctx);
Decision DecideCommand(const PracticeState& s, const RecordPaymentOutcome& c,
                       const CommandContext& ctx);
Decision DecideCommand(const PracticeState& s, const PostPayment& c, const CommandContext& ctx);
Decision DecideCommand(const PracticeState& s, const RemoveCard& c, const CommandContext& ctx);

}  // namespace remit::engine
