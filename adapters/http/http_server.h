// HttpServer: HTTP/1.1 on Boost.Beast, asynchronous (after Beast's advanced server example).
//
// A fixed pool of IO threads reads and writes every connection; a waiting connection costs a
// socket and a little memory, never a thread. A request, once read whole, is handed to a fixed
// pool of handler threads (the handlers block: they wait for durability), and its answer is
// written back on the connection's strand. Every client is bounded in time and number:
//   - a request's header and body must arrive within `request_timeout` of its first byte (a
//     client dripping one byte at a time is cut off), and a kept-alive connection may wait
//     `idle_timeout` for its next request;
//   - an answer must be taken by the client within `write_timeout`;
//   - at most `connections_per_address_max` open connections per client address and
//     `connections_max` in all: the excess is closed at accept, costing no thread; trusted
//     proxies (`trusted_proxies`, whose clients arrive on the proxy's address) are exempt, and
//     their X-Forwarded-For names the client (HttpRequest::client_address); so are the other
//     remit processes (`peers`, and the addresses SetPeerAddresses names), whose forwarded
//     writes are bounded by their own handler pools, not by this cap; their X-Forwarded-For
//     is not believed.
// With a certificate and key (options.tls_*) every connection is TLS 1.2 or newer, the
// handshake within the request deadline, and answers carry Strict-Transport-Security.
// Request bodies over kBodyBytesMax are answered 413 before the handler sees them. Stop()
// refuses new connections, closes idle ones, lets requests in flight finish for at most
// `shutdown_timeout`, then closes everything.
// Thread safety: the handler is called concurrently from the handler threads; Start and Stop
// from one thread.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "events/status.h"

namespace remit {

struct HttpRequest {
  std::string client_address;  // the TCP peer, or X-Forwarded-For's client behind a trusted proxy
  bool from_peer = false;      // sent by another remit process (`peers`, SetPeerAddresses)
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

// An address range ("10.0.0.0/8", "::1/128", or one address).
struct Cidr {
  std::array<uint8_t, 16> net{};  // IPv4 as IPv4-mapped IPv6
  int prefix_bits = 0;
  static std::optional<Cidr> Parse(std::string_view text);
  bool Contains(std::string_view address) const;
};

struct HttpServerOptions {
  size_t io_threads = 2;
  // Handlers block (durability, the processor, and in Kafka mode a write forwarded to its
  // practice's owner, which needs a handler there): enough that two processes forwarding to
  // each other under load do not wait on each other's full pools. Idle threads cost no CPU.
  size_t handler_threads = 128;
  size_t connections_max = 8192;
  size_t connections_per_address_max = 512;
  std::chrono::milliseconds request_timeout{10000};
  std::chrono::milliseconds idle_timeout{30000};
  std::chrono::milliseconds write_timeout{10000};
  std::chrono::milliseconds shutdown_timeout{3000};
  std::vector<Cidr> trusted_proxies;
  std::vector<Cidr> peers;
  // HTTPS: a PEM certificate chain and its key (TLS 1.2 or newer; answers carry HSTS). Empty:
  // plain HTTP.
  std::string tls_cert_file, tls_key_file;
};

class HttpServer {
 public:
  static constexpr size_t kBodyBytesMax = 64 * 1024;
  static constexpr size_t kHeaderBytesMax = 16 * 1024;

  explicit HttpServer(HttpHandler handler, HttpServerOptions options = {});
  ~HttpServer();

  // Binds and starts accepting; returns the bound port (useful with port 0).
  Result<int> Start(const std::string& host, int port);
  void Stop();
  // Replaces the addresses of peers learnt at run time (the cluster's announced members),
  // exempt from the per-address cap like `peers`. Thread-safe; connections already open keep
  // the accounting they were accepted with.
  void SetPeerAddresses(const std::vector<std::string>& addresses);

  // Open connections, and connections closed at accept for a cap (for /metrics and tests).
  size_t connections() const;
  uint64_t connections_refused() const;

  struct Impl;

 private:
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
