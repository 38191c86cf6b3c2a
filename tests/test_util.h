// Helpers shared by the tests: temporary directories and an in-process server.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "adapters/api/api.h"
#include "adapters/app/app.h"
#include "adapters/http/http_client.h"
#include "adapters/http/http_server.h"
#include "tools/node/node.h"

namespace remit::testing {

// A port that was free a moment ago on 127.0.0.1 (for servers a test starts as a child).
inline int FreePort() {
  HttpServer probe([](const HttpRequest&) { return HttpResponse{}; });
  auto p = probe.Start("127.0.0.1", 0);
  return p.ok() ? *p : 0;
}

// Runs a shell command to completion; its exit code (-1 when it did not exit) and its standard
// output appended to *out.
inline int RunCommand(const std::string& cmd, std::string* out) {
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return -1;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out->append(buf, n);
  int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A fresh directory under the system temp dir, removed at destruction.
class TempDir {
 public:
  TempDir() {
    path_ = (std::filesystem::temp_directory_path() / ("remit-test-" + RandomHex(6))).string();
    std::filesystem::create_directories(path_);
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
    // A log opened at the directory itself keeps its high-water mark beside it.
    std::filesystem::remove(path_ + ".end", ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// remit's App + Api + HttpServer on 127.0.0.1 and a free port, in this process.
class TestServer {
 public:
  explicit TestServer(const std::string& data_dir, HttpServerOptions http = {})
      : data_dir_(data_dir), http_options_(std::move(http)) {
    Start();
  }
  ~TestServer() { Stop(); }

  // Stops everything and opens the data directory again, as a process restart does (the port
  // may change; Call follows it).
  void Restart() {
    Stop();
    Start();
  }

  struct Reply {
    int status = 0;
    nlohmann::json body;
    std::map<std::string, std::string> headers;
    std::string raw;
  };

  Reply Call(const std::string& method, const std::string& target, const std::string& token = {},
             const std::string& body = {}, std::map<std::string, std::string> headers = {}) {
    if (!token.empty()) headers["Authorization"] = "Bearer " + token;
    auto r = HttpCall("127.0.0.1", port_, method, target, body, headers);
    if (!r.ok()) throw std::runtime_error(r.status().ToString());
    Reply out{r->status, nlohmann::json::parse(r->body, nullptr, false), r->headers, r->body};
    return out;
  }
  Reply Call(const std::string& method, const std::string& target, const std::string& token,
             const nlohmann::json& body, std::map<std::string, std::string> headers = {}) {
    return Call(method, target, token, body.dump(), std::move(headers));
  }

  App& app() { return *app_; }
  HttpServer& http() { return *server_; }
  Node& node() { return *node_; }
  int port() const { return port_; }
  const std::string& operator_token() const { return app_->operator_token(); }

 private:
  std::unique_ptr<Node> node_;
  App* app_ = nullptr;
  std::unique_ptr<Api> api_;
  std::unique_ptr<HttpServer> server_;
  int port_ = 0;
  std::string data_dir_;
  HttpServerOptions http_options_;

  void Start() {
    AppOptions o;
    o.data_dir = data_dir_;
    auto node = Node::Open(o);
    if (!node.ok()) throw std::runtime_error(node.status().ToString());
    node_ = std::move(node.value());
    app_ = node_->app.get();
    api_ = std::make_unique<Api>(node_->api_parts());
    server_ = std::make_unique<HttpServer>([this](const HttpRequest& r) { return api_->Handle(r); },
                                           http_options_);
    auto port = server_->Start("127.0.0.1", 0);
    if (!port.ok()) throw std::runtime_error(port.status().ToString());
    port_ = *port;
    app_->SetPublicUrl("http://127.0.0.1:" + std::to_string(port_));
  }
  void Stop() {
    if (server_) server_->Stop();
    server_.reset();
    api_.reset();
    node_.reset();
  }
};

}  // namespace remit::testing
