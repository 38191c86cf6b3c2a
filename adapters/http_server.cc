#include "adapters/http_server.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

namespace remit {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::string HttpRequest::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

std::string UrlDecode(std::string_view s, bool query) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else if (c == '+' && query) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      n = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // the sequence runs past the end
    for (size_t k = 1; k <= n; ++k) {
      auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3f);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n + 1;
  }
  return true;
}

namespace {

bool Clean(std::string_view s) {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return false;
  }
  return IsValidUtf8(s);
}

}  // namespace

bool ParseTarget(HttpRequest* r) {
  auto q = r->target.find('?');
  r->path = UrlDecode(std::string_view(r->target).substr(0, q), false);
  if (!Clean(r->path)) return false;
  if (q == std::string::npos) return true;
  std::string_view qs = std::string_view(r->target).substr(q + 1);
  while (!qs.empty()) {
    auto amp = qs.find('&');
    std::string_view part = qs.substr(0, amp);
    auto eq = part.find('=');
    std::string name = UrlDecode(part.substr(0, eq), true);
    std::string value = eq == std::string_view::npos ? "" : UrlDecode(part.substr(eq + 1), true);
    if (!Clean(name) || !Clean(value)) return false;
    r->query[std::move(name)] = std::move(value);
    if (amp == std::string_view::npos) break;
    qs.remove_prefix(amp + 1);
  }
  return true;
}

std::string LogSafe(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f && u != '\\') {
      out.push_back(c);
    } else {
      out += "\\x";
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

struct HttpServer::Impl {
  HttpHandler handler;
  asio::io_context ioc;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::thread accept_thread;
  std::mutex mu;
  std::condition_variable cv;
  size_t connections = 0;
  std::vector<std::shared_ptr<tcp::socket>> sockets;
  std::atomic<bool> stopping{false};

  void AcceptLoop() {
    while (!stopping) {
      auto sock = std::make_shared<tcp::socket>(ioc);
      beast::error_code ec;
      acceptor->accept(*sock, ec);
      if (ec) {
        if (stopping) return;
        continue;
      }
      std::unique_lock<std::mutex> l(mu);
      if (connections >= kConnectionsMax) {
        l.unlock();
        sock->close(ec);
        continue;
      }
      ++connections;
      sockets.push_back(sock);
      l.unlock();
      std::thread([this, sock]() mutable {
        Serve(*sock);
        {
          std::lock_guard<std::mutex> g(mu);
          std::erase(sockets, sock);
        }
        // The socket must be gone before Stop() may return and destroy the io_context.
        sock.reset();
        std::lock_guard<std::mutex> g(mu);
        --connections;
        cv.notify_all();
      }).detach();
    }
  }

  void Serve(tcp::socket& sock) {
    timeval tv{kIdleTimeoutS, 0};
    ::setsockopt(sock.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    beast::flat_buffer buffer;
    beast::error_code ec;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(kBodyBytesMax);
      parser.header_limit(16 * 1024);
      http::read(sock, buffer, parser, ec);
      if (ec == http::error::body_limit) {
        HttpResponse too_big{413, "application/problem+json",
                             R"({"type":"about:blank","title":"Payload Too Large","status":413,)"
                             R"("detail":"request bodies are limited to 65536 bytes","code":"payload_too_large"})",
                             {}};
        Write(sock, too_big, false, 11, ec);
        return;
      }
      if (ec) return;  // closed, timed out or malformed
      auto& req = parser.get();
      HttpRequest r;
      r.method = std::string(req.method_string());
      r.target = std::string(req.target());
      if (!ParseTarget(&r)) {
        HttpResponse bad{400, "application/problem+json",
                         R"({"type":"about:blank","title":"Bad Request","status":400,)"
                         R"("detail":"the request path or query is not valid UTF-8 text","code":"validation_failed"})",
                         {}};
        Write(sock, bad, false, req.version(), ec);
        break;
      }
      for (const auto& f : req) {
        std::string name(f.name_string());
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        r.headers[name] = std::string(f.value());
      }
      r.body = std::move(req.body());
      HttpResponse resp;
      try {
        resp = handler(r);
      } catch (const std::exception& e) {
        spdlog::error("handler failed on {} {}: {}", LogSafe(r.method), LogSafe(r.path), LogSafe(e.what()));
        resp = HttpResponse{500, "application/problem+json",
                            R"({"type":"about:blank","title":"Internal Server Error","status":500,"code":"internal"})",
                            {}};
      }
      bool keep = req.keep_alive() && !stopping;
      Write(sock, resp, keep, req.version(), ec);
      if (ec || !keep) break;
    }
    sock.shutdown(tcp::socket::shutdown_send, ec);
  }

  static void Write(tcp::socket& sock, const HttpResponse& resp, bool keep, unsigned version,
                    beast::error_code& ec) {
    http::response<http::string_body> res{static_cast<http::status>(resp.status), version};
    res.set(http::field::server, "remit");
    if (!resp.content_type.empty()) res.set(http::field::content_type, resp.content_type);
    for (const auto& [k, v] : resp.headers) res.set(k, v);
    res.keep_alive(keep);
    res.body() = resp.body;
    res.prepare_payload();
    http::write(sock, res, ec);
  }
};

HttpServer::HttpServer(HttpHandler handler) : impl_(std::make_unique<Impl>()) {
  impl_->handler = std::move(handler);
}

HttpServer::~HttpServer() { Stop(); }

Result<int> HttpServer::Start(const std::string& host, int port) {
  beast::error_code ec;
  auto addr = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) return Status::InvalidArgument("bad listen address " + host);
  tcp::endpoint ep(addr, static_cast<unsigned short>(port));
  impl_->acceptor = std::make_unique<tcp::acceptor>(impl_->ioc);
  impl_->acceptor->open(ep.protocol(), ec);
  if (!ec) impl_->acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor->bind(ep, ec);
  if (!ec) impl_->acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::IOError("cannot listen on " + host + ":" + std::to_string(port) + ": " +
                                 ec.message());
  int bound = impl_->acceptor->local_endpoint().port();
  impl_->accept_thread = std::thread([this] { impl_->AcceptLoop(); });
  return bound;
}

void HttpServer::Stop() {
  if (!impl_ || !impl_->acceptor || impl_->stopping.exchange(true)) return;
  beast::error_code ec;
  // Unblocks accept(): shutdown wakes a thread blocked in accept on Linux.
  ::shutdown(impl_->acceptor->native_handle(), SHUT_RDWR);
  impl_->acceptor->close(ec);
  if (impl_->accept_thread.joinable()) impl_->accept_thread.join();
  std::unique_lock<std::mutex> l(impl_->mu);
  // Idle keep-alive connections are woken by shutting their read side.
  for (auto& s : impl_->sockets) ::shutdown(s->native_handle(), SHUT_RD);
  // Connection threads finish their current request (bounded by the handlers' own waits).
  impl_->cv.wait(l, [&] { return impl_->connections == 0; });
}

}  // namespace remit
