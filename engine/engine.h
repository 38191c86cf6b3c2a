// The engine: turns a command and a practice's decision state into events or a rejection.
//
// Deterministic: the clock, random ids and the command key come in as inputs (CommandContext);
// it does no I/O. The caller (adapters/app) is the single writer of each practice's stream: it
// holds that practice's lock across Decide, the durable append and Evolve.
// Thread safety: none; a PracticeState is owned by one writer at a time.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "events/event.h"

namespace remit::engine {

// Business rejections: values with stable codes (the contract's `code`), never exceptions.
enum class Reject {
  kPracticeExists,
  kPracticeNotFound,
  kInvalidGuarantor,
  kPatientNotFound,
  kChargeConflict,
  kTokenNotFound,
  kValidationFailed,
};
std::string_view RejectCode(Reject r);

struct Rejection {
  Reject reason;
  std::string detail;
};

// ---- Commands -------------------------------------------------------------------------------
struct RegisterPractice { std::string name, currency; };
struct ChangeSettings {
  std::optional<bool> portal_payments_enabled, auto_post_to_ledger;
};
struct IssueToken { std::string token_id, role, label; Hash256 token_sha256{}; };
struct RevokeToken { std::string token_id; };
struct UpsertPatient { PatientUpserted patient; };
struct PostCharge { ChargePosted charge; };
struct IssueInvite { std::string patient_id, invite_id; int64_t expires_at_us = 0; };

using Command = std::variant<RegisterPractice, ChangeSettings, IssueToken, RevokeToken,
                             UpsertPatient, PostCharge, IssueInvite>;

struct CommandContext {
  std::string practice_id;
  std::string command_key;  // idempotency key (given or derived); seeds the event ids
  Hash256 request_sha256{};
  std::string actor;
  int64_t now_us = 0;
};

// What a command did, for the caller's answer.
enum class Outcome { kCreated, kUpdated, kUnchanged };

struct Decision {
  std::variant<Rejection, std::vector<Event>> result;
  Outcome outcome = Outcome::kCreated;
  bool rejected() const { return result.index() == 0; }
  const Rejection& rejection() const { return std::get<0>(result); }
  std::vector<Event>& events() { return std::get<1>(result); }
};

// ---- Decision state: what the engine must know to decide -----------------------------------
struct PatientState {
  PatientUpserted record;
  int dependents = 0;
};
struct ChargeState {
  Hash256 fingerprint{};
};
struct TokenState {
  std::string role;
  bool revoked = false;
};

struct PracticeState {
  bool registered = false;
  std::string name, currency;
  bool portal_payments_enabled = false;
  bool auto_post_to_ledger = false;
  std::map<std::string, PatientState> patients;
  std::map<std::string, ChargeState> charges;
  std::map<std::string, TokenState> tokens;
  Hash256 head_hash{};
  uint64_t events = 0;
  // The newest occurred_at_us: the writer never gives an event an earlier time, so a
  // practice's events are in time order and "as of T" is a prefix of its stream.
  int64_t last_occurred_at_us = 0;
};

// A stable fingerprint of a charge's body, to tell a replay from a conflict.
Hash256 ChargeFingerprint(const ChargePosted& c);

// Decides `cmd` against `state`. Events come back complete but unsealed (no hashes).
Decision Decide(const PracticeState& state, const Command& cmd, const CommandContext& ctx);

// Folds one event (already durable) into the decision state.
void Evolve(PracticeState* state, const Event& event);

}  // namespace remit::engine
