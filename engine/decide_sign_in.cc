// The patient's sign-in: enrolment, identity check, password, second factor, sessions.
// Every failure is recorded (the events say so) and answered as a rejection; lockouts follow
// from the recorded failures (Evolve).
#include "engine/decide.h"

#include <algorithm>
#include <cctype>

#include "events/check.h"

namespace remit::engine {
namespace {

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return {};
  size_t b = s.find_last_not_of(" \t\r\n");
  return s.substr(a, b - a + 1);
}

std::string LastDigits(const std::string& s, size_t n) {
  std::string d;
  for (char c : s) {
    if (c >= '0' && c <= '9') d.push_back(c);
  }
  return d.size() <= n ? d : d.substr(d.size() - n);
}

// Failures of a username within the identity window that ends at `now`.
int CountSince(const std::vector<int64_t>& times, int64_t since) {
  return static_cast<int>(
      std::count_if(times.begin(), times.end(), [&](int64_t t) { return t > since; }));
}

int RecentIdentityFailures(const PracticeState& s, const std::string& username, int64_t now) {
  auto it = s.identity_failures.find(username);
  return it == s.identity_failures.end() ? 0 : CountSince(it->second, now - kIdentityWindowUs);
}

// Wrong codes of a user, across challenges, within the code window that ends at `now`.
int RecentCodeFailures(const PortalUser& u, int64_t now) {
  return CountSince(u.code_failures, now - kCodeWindowUs);
}

}  // namespace

bool IdentityMatches(const PatientUpserted& p, const std::string& method,
                     const std::string& value) {
  if (method == "phone") {
    std::string want = LastDigits(p.phone, 10), got = LastDigits(value, 10);
    return want.size() == 10 && got == want;
  }
  if (method == "email") {
    std::string want = Lower(Trim(p.email));
    return !want.empty() && Lower(Trim(value)) == want;
  }
  if (method == "initials") {
    if (p.first_name.empty() || p.last_name.empty()) return false;
    std::string want = Lower(std::string{p.first_name[0], p.last_name[0]});
    return Lower(Trim(value)) == want;
  }
  return false;
}

Decision DecideCommand(const PracticeState& s, const Enroll& c, const CommandContext& ctx) {
  auto inv = s.invites.find(c.invite_id);
  if (inv == s.invites.end() || inv->second.used || inv->second.expires_at_us <= ctx.now_us) {
    return Rejected(Reject::kInvalidInvite, "the invite code is unknown, used or expired");
  }
  auto taken = s.users.find(c.username);
  if (taken != s.users.end() && taken->second.patient_id != inv->second.patient_id) {
    return Rejected(Reject::kUsernameTaken, "username " + c.username + " is taken");
  }
  REMIT_CHECK(!c.secret_id.empty(), "enrolment without its secrets");
  const std::string& patient = inv->second.patient_id;
  std::vector<Payload> events = {PortalEnrolled{patient, c.username, c.invite_id, c.secret_id}};
  // Whoever signed in before (the patient, or someone who held their account) is
  // signed out: the account's sign-in is new.
  for (const auto& [sid, session] : s.sessions) {
    if (session.patient_id == patient && !session.ended && session.expires_at_us > ctx.now_us) {
      events.push_back(SessionEnded{sid, "account_reset"});
    }
  }
  return Emit(ctx, std::move(events));
}

Decision DecideCommand(const PracticeState& s, const CheckIdentity& c, const CommandContext& ctx) {
  if (RecentIdentityFailures(s, c.username, ctx.now_us) >= kIdentityFailuresMax) {
    return Rejected(Reject::kLockedOut, "too many identity checks failed; try later");
  }
  auto user = s.users.find(c.username);
  const PatientState* patient = nullptr;
  if (user != s.users.end()) {
    auto p = s.patients.find(user->second.patient_id);
    if (p != s.patients.end()) patient = &p->second;
  }
  if (patient == nullptr || !IdentityMatches(patient->record, c.method, c.value)) {
    std::vector<Payload> events = {
        IdentityFailed{c.username, c.method, patient == nullptr ? "unknown_username" : "mismatch"}};
    if (RecentIdentityFailures(s, c.username, ctx.now_us) + 1 >= kIdentityFailuresMax) {
      events.push_back(LockedOut{c.username, "identity", ctx.now_us + kIdentityWindowUs});
    }
    Decision d = Emit(ctx, std::move(events));
    d.outcome = Outcome::kUnchanged;
    d.failure = Rejection{Reject::kIdentityNotVerified, "we could not confirm who you are"};
    return d;
  }
  return Emit(ctx, {IdentityVerified{c.username, user->second.patient_id, c.method, c.identity_id,
                                     ctx.now_us + kIdentityTokenTtlUs}});
}

Decision DecideCommand(const PracticeState& s, const Login& c, const CommandContext& ctx) {
  auto grant = s.identity_grants.find(c.identity_id);
  if (grant == s.identity_grants.end() || grant->second.username != c.username ||
      grant->second.expires_at_us <= ctx.now_us) {
    return Rejected(Reject::kIdentityNotVerified, "confirm who you are first");
  }
  auto user = s.users.find(c.username);
  if (user == s.users.end()) {
    return Rejected(Reject::kIdentityNotVerified, "confirm who you are first");
  }
  const PortalUser& u = user->second;
  if (u.password_locked_until_us > ctx.now_us) {
    return Rejected(Reject::kLockedOut, "too many wrong passwords; try later");
  }
  if (!c.password_ok) {
    std::vector<Payload> events = {PasswordFailed{c.username, "wrong_password"}};
    int failures = (u.password_locked_until_us != 0 ? 0 : u.password_failures) + 1;
    if (failures >= kPasswordFailuresMax) {
      events.push_back(LockedOut{c.username, "password", ctx.now_us + kPasswordLockUs});
    }
    Decision d = Emit(ctx, std::move(events));
    d.outcome = Outcome::kUnchanged;
    d.failure = Rejection{Reject::kInvalidCredentials, "wrong username or password"};
    return d;
  }
  return Emit(ctx, {PasswordVerified{c.username, u.patient_id, c.challenge_id,
                                     ctx.now_us + kChallengeTtlUs}});
}

Decision DecideCommand(const PracticeState& s, const VerifyCode& c, const CommandContext& ctx) {
  auto ch = s.challenges.find(c.challenge_id);
  if (ch == s.challenges.end() || ch->second.spent || ch->second.expires_at_us <= ctx.now_us ||
      ch->second.failures >= kCodeFailuresMax) {
    return Rejected(Reject::kInvalidCode, "this sign-in has expired; start again");
  }
  const Grant& g = ch->second;
  auto user = s.users.find(g.username);
  if (user == s.users.end() || user->second.patient_id != g.patient_id) {
    // The account was enrolled again since this sign-in began.
    return Rejected(Reject::kInvalidCode, "this sign-in has expired; start again");
  }
  const PortalUser& u = user->second;
  if (u.code_locked_until_us > ctx.now_us) {
    return Rejected(Reject::kLockedOut, "too many wrong codes; try later");
  }
  bool replay = c.matched_step && *c.matched_step <= u.last_totp_step;
  if (!c.matched_step || replay) {
    std::vector<Payload> events = {
        SecondFactorFailed{g.username, replay ? "code_reused" : "wrong_code", c.challenge_id}};
    if (RecentCodeFailures(u, ctx.now_us) + 1 >= kCodeFailuresPerUserMax) {
      events.push_back(LockedOut{g.username, "code", ctx.now_us + kCodeLockUs});
    }
    Decision d = Emit(ctx, std::move(events));
    d.outcome = Outcome::kUnchanged;
    d.failure = Rejection{Reject::kInvalidCode, "wrong or already used code"};
    return d;
  }
  return Emit(ctx,
              {SecondFactorVerified{g.username, g.patient_id, *c.matched_step, c.challenge_id},
               SessionStarted{c.session_id, g.patient_id, ctx.now_us + kSessionTtlUs, g.username}});
}

Decision DecideCommand(const PracticeState& s, const Logout& c, const CommandContext& ctx) {
  auto it = s.sessions.find(c.session_id);
  if (it == s.sessions.end()) {
    return Rejected(Reject::kSessionNotFound, "no such session");
  }
  if (it->second.ended) return Unchanged();
  return Emit(ctx, {SessionEnded{c.session_id, c.reason}}, Outcome::kUpdated);
}

}  // namespace remit::engine
