#include "adapters/app/app.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "adapters/app/queries.h"
#include "adapters/crypto/secrets.h"
#include "events/check.h"
#include "events/event.h"
#include "projections/projections.h"

namespace remit {

int RoleRank(std::string_view role) {
  if (role == "auditor") return 1;
  if (role == "staff") return 2;
  if (role == "admin") return 3;
  return 0;
}

Result<std::unique_ptr<App>> App::Open(const AppOptions& options) {
  Status ready = InitCrypto();
  if (!ready.ok()) return ready;
  std::unique_ptr<App> app(new App());
  app->options_ = options;
  app->SetPublicUrl(options.public_url);
  if (app->options_.operator_token_file.empty()) {
    app->options_.operator_token_file = options.data_dir + "/operator-token";
  }
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec) return Status::IOError("cannot create " + options.data_dir + ": " + ec.message());
  if (options.open_log) {
    auto log = options.open_log(options.data_dir);
    if (!log.ok()) return log.status();
    app->log_ = std::move(log.value());
  } else {
    auto log = OpenEmbeddedLog(options.data_dir + "/log", options.read_only);
    if (!log.ok()) return log.status();
    app->log_ = std::move(log.value());
  }
  auto views = ViewStore::Open(options.data_dir + "/views");
  if (!views.ok()) return views.status();
  app->views_ = std::move(views.value());
  Status s = app->LoadOperatorToken();
  if (!s.ok()) return s;
  s = app->RebuildState();
  if (!s.ok() && !options.read_only) return s;
  if (!s.ok()) app->Degrade(s.ToString());
  app->runner_ = std::make_unique<ProjectionRunner>(app->log_.get(), app->views_.get());
  // The views are an independent record of how far the log got: they never apply an event the
  // log has not made durable, so views ahead of the log mean the log lost acknowledged events.
  uint64_t log_end = app->log_->EndOffset(), views_at = app->runner_->max_checkpoint();
  if (views_at > log_end) {
    Status lost = Status::Corruption(
        options.data_dir + "/log: the log ends at offset " + std::to_string(log_end) +
        " but the views (" + options.data_dir + "/views) have applied it up to offset " +
        std::to_string(views_at) + ": " + std::to_string(views_at - log_end) +
        " acknowledged events are missing from the log, the first at offset " +
        std::to_string(log_end) +
        ". The log was damaged or replaced by an older copy; keep the "
        "directory as it is and restore it from a backup (remit restore; docs/operations.md)");
    if (!options.read_only) return lost;
    app->Degrade(lost.ToString());
  }
  s = app->runner_->CatchUp(app->log_->EndOffset());
  if (!s.ok() && !options.read_only) return s;
  if (!s.ok()) app->Degrade(s.ToString());  // kept only if it is the first reason
  if (!options.read_only) app->runner_->Start();
  return app;
}

App::~App() {
  if (runner_) runner_->Stop();
  runner_.reset();
  views_.reset();
  log_.reset();
}

Status App::LoadOperatorToken() {
  auto existing = ReadFile(options_.operator_token_file);
  if (existing.ok()) {
    std::string t = existing.value();
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
    if (t.size() < 32) return Status::InvalidArgument("operator token file is too short");
    operator_token_ = t;
    return Status::OK();
  }
  operator_token_ = "rmo_" + RandomHex(32);
  created_operator_token_ = true;
  return WriteFileMode(options_.operator_token_file, operator_token_ + "\n", 0600);
}

Status App::RebuildState() {
  // Reads the whole log once: verifies every record and every practice's chain, and folds the
  // engine's decision state.
  ChainVerifier chain;
  std::vector<LogEntry> entries;
  uint64_t end = log_->EndOffset();
  for (uint64_t at = 0; at < end;) {
    Status s = log_->Read(at, ProjectionRunner::kBatchEventsMax, &entries);
    if (!s.ok()) return s;
    for (const auto& e : entries) {
      auto ev = DecodeRecord(e.record);
      if (!ev.ok()) {
        return Status::Corruption("offset " + std::to_string(e.offset) + ": " +
                                  ev.status().message());
      }
      s = chain.Check(e.offset, *ev);
      if (!s.ok()) return s;
      Slot* slot = GetSlot(ev->practice_id, true);
      MutexLock l(&slot->mu);
      engine::Evolve(&slot->state, *ev);
      slot->next = e.offset + 1;
    }
    at += entries.size();
  }
  return Status::OK();
}

Status App::CatchUpSlot(const std::string& practice_id, Slot* slot) {
  Status broken;
  Status s = ForEachEvent(
      *log_, practice_id,
      [&](uint64_t offset, const Event& ev) {
        slot->mu.AssertHeld();  // the caller's, for the whole fold
        if (ev.prev_hash != slot->state.head_hash) {
          broken = Status::Corruption("offset " + std::to_string(offset) + ": practice " +
                                      practice_id + " does not continue its chain");
          return false;
        }
        engine::Evolve(&slot->state, ev);
        slot->next = offset + 1;
        return true;
      },
      slot->next);
  return s.ok() ? broken : s;
}

App::Slot* App::GetSlot(const std::string& practice_id, bool create) {
  {
    ReaderLock l(&slots_mu_);
    auto it = slots_.find(practice_id);
    if (it != slots_.end()) return it->second.get();
  }
  if (!create) {
    std::vector<LogEntry> any;
    if (!log_->ReadKey(practice_id, 0, 1, &any).ok() || any.empty()) return nullptr;
  }
  WriterLock l(&slots_mu_);
  auto& slot = slots_[practice_id];
  if (!slot) slot = std::make_unique<Slot>();
  return slot.get();
}

std::vector<std::string> App::Practices() const {
  ReaderLock l(&slots_mu_);
  std::vector<std::string> out;
  for (const auto& [id, slot] : slots_) {
    MutexLock s(&slot->mu);
    if (slot->state.registered) out.push_back(id);
  }
  return out;
}

bool App::Inspect(const std::string& practice_id,
                  const std::function<void(const engine::PracticeState&)>& f) {
  Slot* slot = GetSlot(practice_id, false);
  if (slot == nullptr) return false;
  MutexLock l(&slot->mu);
  if (!options_.read_only && !CatchUpSlot(practice_id, slot).ok()) return false;
  if (!slot->state.registered) return false;
  f(slot->state);
  return true;
}

bool App::PracticeExists(const std::string& practice_id) const {
  // From the views, as every read: a read never waits behind the practice's writer.
  return PracticeRecord(LiveReader(*views_), practice_id).has_value();
}

void App::Degrade(const std::string& reason) {
  {
    MutexLock l(&degraded_mu_);
    if (degraded_reason_.empty()) degraded_reason_ = reason;
  }
  degraded_ = true;
}

Result<ExecResult> App::Execute(engine::CommandContext ctx, const engine::Command& cmd) {
  if (read_only()) return Status::InvalidArgument("read_only: this server takes no writes");
  if (ctx.now_us == 0) ctx.now_us = NowMicros();
  bool registering = std::holds_alternative<engine::RegisterPractice>(cmd);
  Slot* slot = GetSlot(ctx.practice_id, registering);
  ExecResult out;
  if (slot == nullptr) {
    out.rejection =
        engine::Rejection{engine::Reject::kPracticeNotFound, "no practice " + ctx.practice_id};
    return out;
  }
  {
    MutexLock l(&slot->mu);
    for (int attempt = 0;; ++attempt) {
      Status s = CatchUpSlot(ctx.practice_id, slot);
      if (!s.ok()) return s;
      ctx.now_us = std::max(ctx.now_us, slot->state.last_occurred_at_us);
      engine::Decision d = engine::Decide(slot->state, cmd, ctx);
      out.outcome = d.outcome;
      if (d.rejected()) {
        out.rejection = d.rejection();
        return out;
      }
      std::vector<Event>& events = d.events();
      if (events.empty()) {
        out.end_offset = log_->EndOffset();
      } else {
        std::vector<LogRecord> records;
        records.reserve(events.size());
        Hash256 prev = slot->state.head_hash;
        for (auto& e : events) {
          records.push_back(LogRecord{ctx.practice_id, Seal(&e, prev)});
          prev = e.hash;
        }
        auto first = log_->Append(std::move(records));
        if (!first.ok() && first.status().code() == Status::Code::kBusy && attempt < kForkRetries) {
          continue;  // another writer got there first (Kafka): decide again on the new head
        }
        if (!first.ok()) return first.status();
        s = CatchUpSlot(ctx.practice_id, slot);  // the events as the log holds them
        if (!s.ok()) return s;
        // Read-your-writes rests on this: the state decided on next holds what was appended.
        REMIT_CHECK(slot->next >= first.value() + events.size(),
                    "the practice's state did not fold back its own append");
        events_appended_ += events.size();
        out.end_offset = first.value() + events.size();
      }
      // A recorded failure: its events are durable, and the caller still hears a rejection.
      if (d.failure) out.rejection = d.failure;
      break;
    }
  }
  if (!runner_->WaitApplied(out.end_offset, kApplyWait)) {
    Status s = runner_->status();
    return s.ok() ? Status::TimedOut("projections did not catch up") : s;
  }
  return out;
}

Principal App::Authenticate(std::string_view bearer) const {
  Principal p;
  if (bearer.empty()) return p;
  if (ConstantTimeEquals(bearer, operator_token_)) {
    p.kind = Principal::Kind::kOperator;
    return p;
  }
  // Staff tokens are looked up by their SHA-256: the hash is the key, so no comparison of the
  // secret itself happens, and the views never hold a usable token.
  auto token = StaffTokenRecord(LiveReader(*views_), Hex(Sha256(bearer)));
  if (!token) return p;
  const nlohmann::json& j = *token;
  if (j.value("revoked", true)) return p;
  int64_t expires = j.value("expires_at_us", int64_t{0});
  if (expires != 0 && NowMicros() >= expires) return p;
  p.kind = Principal::Kind::kStaff;
  p.practice_id = j.value("practice_id", "");
  p.role = j.value("role", "");
  p.token_id = j.value("token_id", "");
  return p;
}

Result<std::variant<engine::Rejection, App::Invite>> App::IssueInvite(
    const std::string& practice_id, const std::string& patient_id, const std::string& actor) {
  Invite invite{RandomHex(16), 0};
  std::string invite_id = Hex(Sha256(invite.code)).substr(0, 32);
  engine::CommandContext ctx;
  ctx.practice_id = practice_id;
  ctx.command_key = "invite:" + invite_id;
  ctx.actor = actor;
  ctx.now_us = NowMicros();
  invite.expires_at_us = ctx.now_us + kInviteTtlUs;
  auto r = Execute(ctx, engine::IssueInvite{patient_id, invite_id, invite.expires_at_us});
  if (!r.ok()) return r.status();
  if (r->rejection) return std::variant<engine::Rejection, Invite>(*r->rejection);
  Inspect(practice_id, [&](const engine::PracticeState& s) {
    auto it = s.invites.find(invite_id);
    invite.account_reset = it != s.invites.end() && it->second.account_reset;
  });
  return std::variant<engine::Rejection, Invite>(invite);
}

Result<std::pair<std::string, std::string>> App::CreateToken(const std::string& practice_id,
                                                             const std::string& role,
                                                             const std::string& label,
                                                             const std::string& actor,
                                                             int64_t expires_at_us) {
  std::string token_id = "tok_" + RandomHex(8);
  std::string token = "rms_" + RandomHex(32);
  engine::CommandContext ctx;
  ctx.practice_id = practice_id;
  ctx.command_key = "token:" + token_id;
  ctx.actor = actor;
  auto r = Execute(ctx, engine::IssueToken{token_id, role, label, Sha256(token), expires_at_us});
  if (!r.ok()) return r.status();
  if (r->rejection) return Status::NotFound(r->rejection->detail);
  return std::make_pair(token_id, token);
}

}  // namespace remit
