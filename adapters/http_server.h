// HttpServer: HTTP/1.1 on Boost.Beast, one thread per connection (bounded).
//
// Request bodies over kBodyBytesMax are answered 413 before the handler sees them. Idle
// connections are closed after kIdleTimeoutS. Stop() closes the listener and waits for the
// connections in flight to finish their current request.
// Thread safety: the handler is called concurrently from connection threads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "events/status.h"

namespace remit {

struct HttpRequest {
  std::string method;
  std::string target;  // path and query as sent
  std::string path;    // decoded path, no query
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string Header(const std::string& lower_name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

class HttpServer {
 public:
  static constexpr size_t kBodyBytesMax = 64 * 1024;
  static constexpr size_t kConnectionsMax = 512;
  static constexpr int kIdleTimeoutS = 60;

  explicit HttpServer(HttpHandler handler);
  ~HttpServer();

  // Binds and starts accepting; returns the bound port (useful with port 0).
  Result<int> Start(const std::string& host, int port);
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Percent-decoding of a URL component ('+' is a space only in queries).
std::string UrlDecode(std::string_view s, bool query);
// Fills r->path and r->query from r->target. False when a decoded path, query name or value is
// not valid UTF-8 or holds a control character: such a request is answered 400 and never reaches
// a handler (or a log line) as raw bytes.
bool ParseTarget(HttpRequest* r);
// Well-formed UTF-8 (no overlong forms, no surrogates, at most U+10FFFF).
bool IsValidUtf8(std::string_view s);
// `s` for a log line: printable ASCII as is, everything else (newlines, other control bytes,
// non-ASCII) as \xNN, so no request can forge or break a line of the log.
std::string LogSafe(std::string_view s);

}  // namespace remit
