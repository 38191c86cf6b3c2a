// The pages of web/, compiled into the binary (web_assets.h): the staff dashboard, the portal,
// the enrolment page and their scripts and styles, each with a policy that lets only its own
// origin's scripts run.
#include "adapters/api/answers.h"
#include "adapters/api/routes.h"
#include "adapters/api/web_assets.h"

namespace remit {
namespace {

std::string_view TypeOf(std::string_view asset) {
  if (asset.ends_with(".html")) return "text/html; charset=utf-8";
  if (asset.ends_with(".css")) return "text/css; charset=utf-8";
  if (asset.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (asset.ends_with(".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

HttpResponse Page(const HttpRequest& req, const std::string& asset) {
  auto bytes = asset.empty() ? std::nullopt : WebAsset(asset);
  if (!bytes) return Problem(404, "not_found", "no such page: " + req.path);
  HttpResponse r{200, std::string(TypeOf(asset)), std::string(*bytes), {}};
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
                         "script-src 'self'; frame-ancestors 'none'; form-action 'self'");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("Cache-Control", "no-cache");
  return r;
}

HttpResponse Staff(Request& r) { return Page(r.http, "staff.html"); }

HttpResponse PortalPage(Request& r) {
  return Page(r.http, IsValidPracticeId(r.practice) ? "portal.html" : "");
}

HttpResponse Enrollment(Request& r) {
  return Page(r.http, IsValidPracticeId(r.practice) ? "enroll.html" : "");
}

// A script, style or image of the pages; never a page by another name.
HttpResponse Asset(Request& r) {
  const std::string& file = r.Param("file");
  bool ok = file.find('.') != std::string::npos && !file.ends_with(".html");
  return Page(r.http, ok ? file : "");
}

}  // namespace

void AddPageRoutes(std::vector<Route>* t) {
  using enum Access;
  t->push_back({"GET", "/staff", kAnyone, Staff});
  t->push_back({"GET", "/portal/{practice_id}", kAnyone, PortalPage});
  t->push_back({"GET", "/portal/{practice_id}/enroll", kAnyone, Enrollment});
  t->push_back({"GET", "/assets/{file}", kAnyone, Asset});
}

}  // namespace remit
