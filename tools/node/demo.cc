#include "tools/node/demo.h"

namespace remit {
namespace {

Status Run(App* app, const std::string& key, const engine::Command& cmd, int64_t now_us = 0) {
  engine::CommandContext ctx{"demo-dental", "demo:" + key, Sha256(key), "operator", now_us};
  auto r = app->Execute(ctx, cmd);
  if (!r.ok()) return r.status();
  if (r->rejection && r->rejection->reason != engine::Reject::kPracticeExists) {
    return Status::InvalidArgument("demo command " + key + " rejected: " + r->rejection->detail);
  }
  return Status::OK();
}

}  // namespace

Result<DemoInfo> LoadDemo(Node* node) {
  App* app = node->app.get();
  DemoInfo info;
  info.practice_id = "demo-dental";
  info.guarantor_id = "P100";
  bool fresh = !app->PracticeExists(info.practice_id);
  Status s = Run(app, "practice", engine::RegisterPractice{"Bright Smiles Family Dental", "USD"});
  if (s.ok()) s = Run(app, "settings", engine::ChangeSettings{true, false});
  if (s.ok()) {
    s = Run(app, "patient:P100",
            engine::UpsertPatient{{"P100", "Jane", "Doe", "(555) 010-2030", "jane.doe@example.com",
                                   "1985-04-12", ""}});
  }
  if (s.ok()) {
    s = Run(app, "patient:P101",
            engine::UpsertPatient{{"P101", "Sam", "Doe", "(555) 010-2030", "jane.doe@example.com",
                                   "2014-09-03", "P100"}});
  }
  if (s.ok()) {
    s = Run(app, "patient:P102",
            engine::UpsertPatient{{"P102", "Lily", "Doe", "(555) 010-2030", "jane.doe@example.com",
                                   "2017-01-22", "P100"}});
  }
  struct C {
    const char* id;
    const char* patient;
    Cents cents;
    const char* what;
    const char* date;
  };
  const C charges[] = {
      {"C-1001", "P100", 12000, "Periodic exam and cleaning", "2026-08-14"},
      {"C-1002", "P101", 8000, "Sealants (2 teeth)", "2026-09-02"},
      {"C-1003", "P102", 4500, "Fluoride varnish", "2026-10-19"},
      {"C-1004", "P100", 21500, "Composite filling, tooth 14", "2026-11-03"},
  };
  for (const auto& c : charges) {
    if (!s.ok()) break;
    s = Run(app, std::string("charge:") + c.id,
            engine::PostCharge{{c.id, c.patient, c.cents, c.what, c.date}});
  }
  if (!s.ok()) return s;
  if (fresh) {
    auto t = app->CreateToken(info.practice_id, "admin", "demo admin", "operator");
    if (!t.ok()) return t.status();
    info.admin_token = t->second;
    auto jane = app->IssueInvite(info.practice_id, info.guarantor_id, "operator");
    if (!jane.ok()) return jane.status();
    if (jane->index() != 1) return Status::InvalidArgument("demo invite refused");
    info.username = "jane.doe";
    info.password = "BrightSmiles-2026";
    info.phone = "(555) 010-2030";
    auto enrolled = node->portal->Enroll(info.practice_id, std::get<1>(*jane).code, info.username,
                                         info.password);
    if (!enrolled.ok()) return enrolled.status();
    if (enrolled->index() != 1) return Status::InvalidArgument("demo enrolment refused");
    info.totp_secret_base32 = std::get<1>(*enrolled).totp_secret_base32;
    info.otpauth_uri = std::get<1>(*enrolled).otpauth_uri;
    auto sam = app->IssueInvite(info.practice_id, "P101", "operator");
    if (!sam.ok()) return sam.status();
    if (sam->index() == 1) {
      info.invite_url = app->public_url() + "/portal/" + info.practice_id +
                        "/enroll?code=" + std::get<1>(*sam).code;
    }
  }
  return info;
}

}  // namespace remit
