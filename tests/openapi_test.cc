// docs/openapi.yaml against the server: every operation in the document answers (it is not an
// unknown path or method), and the route table (Api::Routes) and the document list the same
// operations.
#define BOOST_TEST_MODULE openapi
#include <boost/test/unit_test.hpp>
#include <fstream>
#include <regex>
#include <set>
#include <string_view>

#include "test_util.h"

using namespace remit;
using nlohmann::json;
using remit::testing::TempDir;
using remit::testing::TestServer;

namespace {

struct Operation {
  std::string method, path, operation_id, summary;
};

std::vector<Operation> DocumentedRoutes(const std::string& yaml) {
  std::vector<Operation> out;
  std::regex path_re(R"(^  (/[^:]*):\s*$)"), method_re(R"(^    (get|post|put|delete):)");
  std::regex id_re(R"(^      operationId: ([A-Za-z][A-Za-z0-9]*)\s*$)"),
      summary_re(R"(^      summary: (.+)$)");
  std::istringstream in(yaml);
  std::string line, path;
  bool in_paths = false;
  while (std::getline(in, line)) {
    if (line == "paths:") in_paths = true;
    if (!in_paths) continue;
    std::smatch m;
    if (std::regex_match(line, m, path_re))
      path = m[1];
    else if (std::regex_search(line, m, method_re) && !path.empty())
      out.push_back({m[1], path, "", ""});
    else if (std::regex_match(line, m, id_re) && !out.empty())
      out.back().operation_id = m[1];
    else if (std::regex_match(line, m, summary_re) && !out.empty())
      out.back().summary = m[1];
  }
  return out;
}

std::string Upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

BOOST_AUTO_TEST_CASE(document_and_router_agree) {
  TempDir dir;
  TestServer s(dir.path());
  auto doc = s.Call("GET", "/openapi.yaml");
  BOOST_REQUIRE_EQUAL(doc.status, 200);
  BOOST_TEST(doc.raw.starts_with("openapi: 3.1.0"));
  auto routes = DocumentedRoutes(doc.raw);
  BOOST_TEST(routes.size() > 30u);

  BOOST_REQUIRE(s.Call("POST", "/api/v1/practices", s.operator_token(),
                       json{{"practice_id", "doc-dental"}, {"name", "Doc"}, {"currency", "USD"}})
                    .status == 201);
  std::string admin = s.Call("POST", "/api/v1/practices/doc-dental/tokens", s.operator_token(),
                             json{{"role", "admin"}})
                          .body["token"];
  for (const auto& r : routes) {
    std::string target = std::regex_replace(r.path, std::regex(R"(\{practice_id\})"), "doc-dental");
    target = std::regex_replace(target, std::regex(R"(\{[a-z_]+\})"), "x1");
    std::string body = r.method == "get" || r.method == "delete" ? "" : "{}";
    auto reply = s.Call(Upper(r.method), target, admin, body);
    BOOST_TEST_CONTEXT(r.method << " " << r.path) {
      bool unknown = reply.status == 404 && reply.body.is_object() &&
                     reply.body.value("detail", "").starts_with("no such path");
      BOOST_TEST(!unknown);
      BOOST_TEST(reply.status != 405);
      BOOST_TEST(reply.status < 500);
    }
  }

  // The table and the document: the same operations, method and pattern alike.
  std::set<std::string> table, listed;
  for (const auto& r : routes) listed.insert(Upper(r.method) + " " + r.path);
  for (const remit::Route& r : Api::Routes()) {
    if (std::string_view(r.pattern) == "/assets/{file}") continue;  // the pages' own files
    table.insert(std::string(r.method) + " " + r.pattern);
  }
  for (const auto& op : table) {
    BOOST_TEST_CONTEXT(op) { BOOST_TEST(listed.contains(op), "in the table, not the document"); }
  }
  for (const auto& op : listed) {
    BOOST_TEST_CONTEXT(op) { BOOST_TEST(table.contains(op), "in the document, not the table"); }
  }
  BOOST_TEST(table.size() > 30u);
}

// Generated clients name their methods after operationId: every operation has one, unique,
// and a summary.
BOOST_AUTO_TEST_CASE(every_operation_has_an_id_and_a_summary) {
  std::ifstream in(REMIT_OPENAPI_YAML);
  std::string yaml((std::istreambuf_iterator<char>(in)), {});
  auto routes = DocumentedRoutes(yaml);
  BOOST_TEST(routes.size() > 30u);
  std::set<std::string> ids;
  for (const auto& r : routes) {
    BOOST_TEST_CONTEXT(r.method << " " << r.path) {
      BOOST_TEST(!r.operation_id.empty());
      BOOST_TEST(r.summary.size() > 5u);
      BOOST_TEST(ids.insert(r.operation_id).second, "operationId used twice: " << r.operation_id);
    }
  }
}
