// libFuzzer target: the JSON body and the query of every route, through Api::Handle on a real
// node (a fresh data directory under /tmp, with one practice, a patient, a charge and an admin
// token). The input's first byte picks the method, the second the route (a row of the table),
// the third the caller (operator, admin, none); the next line is a query string, the rest the
// body. Nothing may crash, every answer must be JSON or a page, and a 5xx is a failure unless
// it says the store is unavailable.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "adapters/api/api.h"
#include "tools/node/node.h"

using namespace remit;
using nlohmann::json;

namespace {

struct World {
  std::unique_ptr<Node> node;
  std::unique_ptr<Api> api;
  std::string op, admin;
};

World* TheWorld() {
  static World* w = [] {
    auto* world = new World();
    std::string dir = "/tmp/remit-api-fuzz-" + std::to_string(::getpid());
    std::filesystem::remove_all(dir);
    AppOptions o;
    o.data_dir = dir;
    auto node = Node::Open(o);
    if (!node.ok()) std::abort();
    world->node = std::move(node.value());
    world->node->app->SetPublicUrl("http://fuzz.test");
    world->api = std::make_unique<Api>(world->node->api_parts());
    world->op = world->node->app->operator_token();
    auto call = [&](const std::string& m, const std::string& path, const std::string& token,
                    const json& body) {
      HttpRequest r;
      r.method = m;
      r.target = path;
      r.headers["authorization"] = "Bearer " + token;
      r.headers["content-type"] = "application/json";
      r.body = body.dump();
      if (!ParseTarget(&r)) std::abort();
      return world->api->Handle(r);
    };
    call("POST", "/api/v1/practices", world->op,
         {{"practice_id", "fuzz-dental"}, {"name", "F"}, {"currency", "USD"}});
    auto t = call("POST", "/api/v1/practices/fuzz-dental/tokens", world->op, {{"role", "admin"}});
    world->admin = json::parse(t.body)["token"];
    call("PUT", "/api/v1/practices/fuzz-dental/settings", world->admin,
         {{"portal_payments_enabled", true}});
    call("PUT", "/api/v1/practices/fuzz-dental/patients/P1", world->admin,
         {{"first_name", "A"}, {"last_name", "B"}});
    call("POST", "/api/v1/practices/fuzz-dental/charges", world->admin,
         {{"charge_id", "C1"},
          {"patient_id", "P1"},
          {"amount_cents", 5000},
          {"service_date", "2026-01-01"}});
    return world;
  }();
  return w;
}

// Every route of the table, its parameters filled in (the practice, patient P1, else "x"),
// but the backup (it would copy the data directory to a path the input names).
const std::vector<std::string>& Routes() {
  static const std::vector<std::string> kRoutes = [] {
    std::vector<std::string> out;
    for (const Route& route : Api::Routes()) {
      std::string path = route.pattern;
      if (path == "/api/v1/operator/backup") continue;
      path = std::regex_replace(path, std::regex(R"(\{practice_id\})"), "fuzz-dental");
      path = std::regex_replace(path, std::regex(R"(\{patient_id\})"), "P1");
      out.push_back(std::regex_replace(path, std::regex(R"(\{[a-z_]+\})"), "x"));
    }
    return out;
  }();
  return kRoutes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  World* w = TheWorld();
  static const char* kMethods[] = {"GET", "POST", "PUT", "DELETE"};
  HttpRequest r;
  r.method = kMethods[data[0] % 4];
  r.target = Routes()[data[1] % Routes().size()];
  std::string token = data[2] % 3 == 0 ? w->op : data[2] % 3 == 1 ? w->admin : "";
  std::string rest(reinterpret_cast<const char*>(data + 3), size - 3);
  auto nl = rest.find('\n');
  if (nl != std::string::npos) {
    if (nl > 0) r.target += "?" + rest.substr(0, nl);
    rest = rest.substr(nl + 1);
  }
  if (!ParseTarget(&r)) return 0;  // the server answers 400 before any handler
  if (!token.empty()) r.headers["authorization"] = "Bearer " + token;
  r.headers["content-type"] = "application/json";
  r.headers["idempotency-key"] = "fuzz-" + std::to_string(size);
  r.body = rest;
  if (r.body.size() > HttpServer::kBodyBytesMax) return 0;
  HttpResponse resp = w->api->Handle(r);
  if (resp.status >= 500 && resp.status != 503) std::abort();
  if (resp.content_type.find("json") != std::string::npos && !resp.body.empty() &&
      json::parse(resp.body, nullptr, false).is_discarded()) {
    std::abort();
  }
  return 0;
}
