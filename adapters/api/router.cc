#include "adapters/api/router.h"

#include "adapters/api/answers.h"
#include "events/check.h"

namespace remit {

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) parts.emplace_back(path.substr(i, j - i));
    i = j;
  }
  return parts;
}

namespace {

bool IsParam(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

std::vector<std::string_view> PatternSegments(std::string_view pattern) {
  std::vector<std::string_view> out;
  size_t i = 1;
  while (i <= pattern.size()) {
    size_t j = pattern.find('/', i);
    if (j == std::string_view::npos) j = pattern.size();
    out.push_back(pattern.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

}  // namespace

Router::Router(std::vector<Route> routes) : routes_(std::move(routes)) {
  for (const Route& r : routes_) {
    std::string_view pattern = r.pattern;
    REMIT_CHECK(pattern.starts_with("/") && !pattern.ends_with("/"),
                "a route's pattern is an absolute path");
    compiled_.push_back({PatternSegments(pattern)});
    for (size_t i = 0; i + 1 < compiled_.size(); ++i) {
      REMIT_CHECK(!(std::string_view(routes_[i].pattern) == pattern &&
                    std::string_view(routes_[i].method) == r.method),
                  "a method and pattern are registered once");
    }
  }
}

Router::Match Router::Find(std::string_view method, std::string_view path) const {
  auto parts = SplitPath(path);
  // A GET route answers HEAD too.
  std::string_view wanted = method == "HEAD" ? "GET" : method;
  Match found;
  for (size_t i = 0; i < routes_.size(); ++i) {
    const auto& segments = compiled_[i].segments;
    if (segments.size() != parts.size()) continue;
    std::vector<std::pair<std::string_view, std::string>> params;
    bool match = true;
    for (size_t k = 0; k < segments.size() && match; ++k) {
      if (IsParam(segments[k])) {
        params.emplace_back(segments[k].substr(1, segments[k].size() - 2), parts[k]);
      } else {
        match = segments[k] == parts[k];
      }
    }
    if (!match) continue;
    found.pattern = routes_[i].pattern;
    if (wanted == routes_[i].method) {
      found.route = &routes_[i];
      found.params = std::move(params);
      found.allow.clear();
      return found;
    }
    found.allow += (found.allow.empty() ? "" : ", ") + std::string(routes_[i].method);
  }
  return found;
}

const std::string& Request::Param(std::string_view name) const {
  static const std::string kNone;
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return kNone;
}

std::optional<std::string> Request::Query(const char* name) const {
  auto it = http.query.find(name);
  if (it == http.query.end()) return std::nullopt;
  return it->second;
}

engine::CommandContext Request::Command(std::string key) const {
  return engine::CommandContext{practice, std::move(key),
                                Sha256(http.method + " " + http.path, http.body), Actor(), 0};
}

std::string Request::CommandKey(const std::string& fallback) const {
  std::string k = http.Header("idempotency-key");
  return k.empty() ? fallback : "idem:" + k;
}

std::string Request::Actor() const { return ActorOf(who); }

}  // namespace remit
