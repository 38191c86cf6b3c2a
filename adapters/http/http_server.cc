#include "adapters/http/http_server.h"

#include <set>

#include <openssl/ssl.h>

#include <spdlog/spdlog.h>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "events/mutex.h"

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

std::optional<Cidr> Cidr::Parse(std::string_view text) {
  std::string addr(text.substr(0, text.find('/')));
  beast::error_code ec;
  auto a = asio::ip::make_address(addr, ec);
  if (ec) return std::nullopt;
  Cidr c;
  int max_bits = a.is_v4() ? 32 : 128;
  c.prefix_bits = max_bits;
  if (auto slash = text.find('/'); slash != std::string_view::npos) {
    std::string bits(text.substr(slash + 1));
    char* end = nullptr;
    long v = std::strtol(bits.c_str(), &end, 10);
    if (bits.empty() || *end != '\0' || v < 0 || v > max_bits) return std::nullopt;
    c.prefix_bits = static_cast<int>(v);
  }
  auto v6 = a.is_v4() ? asio::ip::make_address_v6(asio::ip::v4_mapped, a.to_v4()) : a.to_v6();
  c.net = v6.to_bytes();
  if (a.is_v4()) c.prefix_bits += 96;
  return c;
}

bool Cidr::Contains(std::string_view address) const {
  beast::error_code ec;
  auto a = asio::ip::make_address(std::string(address), ec);
  if (ec) return false;
  auto bytes = (a.is_v4() ? asio::ip::make_address_v6(asio::ip::v4_mapped, a.to_v4()) : a.to_v6())
                   .to_bytes();
  for (int bit = 0; bit < prefix_bits; ++bit) {
    int byte = bit / 8, mask = 0x80 >> (bit % 8);
    if ((bytes[byte] & mask) != (net[byte] & mask)) return false;
  }
  return true;
}

namespace {

HttpResponse ProblemResponse(int status, const char* title, const char* code, const char* detail) {
  return HttpResponse{status,
                      "application/problem+json",
                      std::string(R"({"type":"about:blank","title":")") + title + R"(","status":)" +
                          std::to_string(status) + R"(,"detail":")" + detail + R"(","code":")" +
                          code + "\"}",
                      {}};
}

}  // namespace

class Session;

struct HttpServer::Impl {
  HttpHandler handler;
  HttpServerOptions options;
  mutable Mutex mu;
  CondVar cv;  // signalled when a connection ends
  size_t connections REMIT_GUARDED_BY(mu) = 0;
  std::map<std::string, size_t> per_address REMIT_GUARDED_BY(mu);
  std::set<std::string> peer_addresses REMIT_GUARDED_BY(mu);
  std::map<uint64_t, std::weak_ptr<Session>> sessions REMIT_GUARDED_BY(mu);
  uint64_t next_id REMIT_GUARDED_BY(mu) = 0;
  std::atomic<uint64_t> refused{0};
  std::atomic<bool> stopping{false};
  // Declared after what a Session's destructor uses: destroying the io_context destroys the
  // handlers it still holds, and with them the last Sessions. The acceptor, destroyed first,
  // goes before the io_context it belongs to.
  asio::io_context ioc;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::unique_ptr<asio::ssl::context> tls;  // set when serving HTTPS
  std::vector<std::thread> io_threads;
  std::unique_ptr<asio::thread_pool> handlers;

  bool Trusted(const std::string& address) const { return InAny(options.trusted_proxies, address); }
  static bool InAny(const std::vector<Cidr>& ranges, const std::string& address) {
    for (const auto& c : ranges) {
      if (c.Contains(address)) return true;
    }
    return false;
  }
  void DoAccept();
  void Forget(uint64_t id, const std::string& address, bool counted);
};

// One connection: reads a request with deadlines, hands it to a handler thread, writes the
// answer, and reads the next (keep-alive) until either side closes, a deadline passes or the
// server stops. Every step runs on the connection's strand.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(HttpServer::Impl* server, tcp::socket socket, uint64_t id, std::string address,
          bool counted, bool peer)
      : server_(server),
        stream_(std::move(socket)),
        id_(id),
        address_(std::move(address)),
        counted_(counted),
        peer_(peer) {
    if (server_->tls) {
      tls_ = std::make_unique<asio::ssl::stream<beast::tcp_stream&>>(stream_, *server_->tls);
    }
  }
  ~Session() { server_->Forget(id_, address_, counted_); }

  void Start() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      if (!self->tls_) return self->Read();
      // The handshake is part of the first request's time.
      self->stream_.expires_after(self->server_->options.request_timeout);
      self->tls_->async_handshake(asio::ssl::stream_base::server, [self](beast::error_code ec) {
        if (ec) return self->Close();
        self->Read();
      });
    });
  }

  // From Stop(): an idle connection closes now; one with a request in flight after its answer.
  void Shutdown() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      self->closing_ = true;
      if (!self->busy_) self->Close();
    });
  }
  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

 private:
  void Read() {
    if (closing_ || server_->stopping) return Close();
    parser_.emplace();
    parser_->body_limit(HttpServer::kBodyBytesMax);
    parser_->header_limit(HttpServer::kHeaderBytesMax);
    started_ = buffer_.size() > 0;  // pipelined bytes already belong to this request
    if (started_) {
      deadline_ = std::chrono::steady_clock::now() + server_->options.request_timeout;
      return Feed();
    }
    ReadSome();
  }
  // Raw reads, parsed here: the deadline must start at the first byte, which Beast's own
  // read_some would not report until a whole header line had arrived.
  void ReadSome() {
    if (started_) {
      stream_.expires_at(deadline_);
    } else {
      stream_.expires_after(server_->options.idle_timeout);
    }
    auto done = [self = shared_from_this()](beast::error_code ec, size_t n) {
      self->buffer_.commit(n);
      if (ec) return self->Close();  // closed, or a deadline passed
      if (!self->started_) {
        self->started_ = true;
        self->deadline_ = std::chrono::steady_clock::now() + self->server_->options.request_timeout;
      }
      self->Feed();
    };
    if (tls_) {
      tls_->async_read_some(buffer_.prepare(kReadBytes), std::move(done));
    } else {
      stream_.async_read_some(buffer_.prepare(kReadBytes), std::move(done));
    }
  }
  void Feed() {
    beast::error_code ec;
    while (buffer_.size() > 0 && !parser_->is_done()) {
      size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == http::error::need_more) {
        ec = {};
        break;
      }
      if (ec || used == 0) break;
    }
    if (ec == http::error::body_limit) {
      head_ = false;
      return Respond(ProblemResponse(413, "Payload Too Large", "payload_too_large",
                                     "request bodies are limited to 65536 bytes"),
                     false, 11);
    }
    if (ec) return Close();  // malformed
    if (!parser_->is_done()) return ReadSome();
    Dispatch();
  }
  void Dispatch() {
    auto& req = parser_->get();
    auto r = std::make_shared<HttpRequest>();
    r->client_address = address_;
    r->method = std::string(req.method_string());
    r->target = std::string(req.target());
    for (const auto& f : req) {
      std::string name(f.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r->headers[name] = std::string(f.value());
    }
    if (server_->Trusted(address_))
      r->client_address = ForwardedClient(r->Header("x-forwarded-for"));
    r->from_peer = peer_;
    r->body = std::move(req.body());
    bool keep = req.keep_alive();
    unsigned version = req.version();
    head_ = req.method() == http::verb::head;
    if (!ParseTarget(r.get())) {
      return Respond(ProblemResponse(400, "Bad Request", "validation_failed",
                                     "the request path or query is not valid UTF-8 text"),
                     false, version);
    }
    busy_ = true;
    stream_.expires_never();  // the handler's time is the handler's own
    asio::post(*server_->handlers, [self = shared_from_this(), r, keep, version] {
      HttpResponse resp;
      try {
        resp = self->server_->handler(*r);
      } catch (const std::exception& e) {
        spdlog::error("handler failed on {} {}: {}", LogSafe(r->method), LogSafe(r->path),
                      LogSafe(e.what()));
        resp = ProblemResponse(500, "Internal Server Error", "internal",
                               "the request could not be handled");
      }
      asio::post(self->stream_.get_executor(),
                 [self, resp = std::move(resp), keep, version]() mutable {
                   self->busy_ = false;
                   self->Respond(std::move(resp), keep, version);
                 });
    });
  }
  // The rightmost address of X-Forwarded-For that is not itself a trusted proxy.
  std::string ForwardedClient(const std::string& xff) const {
    std::string_view rest(xff);
    while (!rest.empty()) {
      auto comma = rest.rfind(',');
      std::string_view part = comma == std::string_view::npos ? rest : rest.substr(comma + 1);
      while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
      while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
      std::string a(part);
      beast::error_code ec;
      asio::ip::make_address(a, ec);
      if (ec) break;  // not an address: trust nothing further left
      if (!server_->Trusted(a)) return a;
      if (comma == std::string_view::npos) return a;
      rest = rest.substr(0, comma);
    }
    return address_;
  }
  void Respond(HttpResponse resp, bool keep, unsigned version) {
    keep = keep && !closing_ && !server_->stopping;
    res_ = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(resp.status), version);
    res_->set(http::field::server, "remit");
    if (!resp.content_type.empty()) res_->set(http::field::content_type, resp.content_type);
    for (const auto& [k, v] : resp.headers) res_->set(k, v);
    // Served over TLS: browsers keep to HTTPS for this host from now on.
    if (tls_) res_->set(http::field::strict_transport_security, "max-age=31536000");
    res_->keep_alive(keep);
    if (head_) {
      // HEAD: the length the GET's body would have, and no body.
      res_->content_length(resp.body.size());
    } else {
      res_->body() = std::move(resp.body);
      res_->prepare_payload();
    }
    stream_.expires_after(server_->options.write_timeout);
    auto written = [self = shared_from_this(), keep](beast::error_code ec, size_t) {
      self->res_.reset();
      if (ec || !keep) {
        beast::error_code ignored;
        self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
        return self->Close();
      }
      self->Read();
    };
    if (tls_) {
      http::async_write(*tls_, *res_, std::move(written));
    } else {
      http::async_write(stream_, *res_, std::move(written));
    }
  }

  static constexpr size_t kReadBytes = 8192;
  HttpServer::Impl* server_;
  beast::tcp_stream stream_;
  std::unique_ptr<asio::ssl::stream<beast::tcp_stream&>> tls_;  // over stream_, when serving HTTPS
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<http::response<http::string_body>> res_;
  const uint64_t id_;
  const std::string address_;
  const bool counted_;  // against the per-address cap (not for trusted proxies)
  const bool peer_;     // another remit process (HttpRequest::from_peer)
  bool started_ = false;
  bool busy_ = false;
  bool head_ = false;  // the request being answered is a HEAD: headers only
  bool closing_ = false;
  std::chrono::steady_clock::time_point deadline_;
};

void HttpServer::Impl::DoAccept() {
  acceptor->async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (stopping || !acceptor->is_open()) return;
      // Out of descriptors or the like: try again shortly rather than spin.
      auto timer = std::make_shared<asio::steady_timer>(ioc, std::chrono::milliseconds(50));
      timer->async_wait([this, timer](beast::error_code) {
        if (!stopping) DoAccept();
      });
      return;
    }
    beast::error_code aec;
    auto remote = socket.remote_endpoint(aec);
    std::string address = aec ? std::string() : remote.address().to_string();
    if (!aec && remote.address().is_v6() && remote.address().to_v6().is_v4_mapped()) {
      address =
          asio::ip::make_address_v4(asio::ip::v4_mapped, remote.address().to_v6()).to_string();
    }
    bool peer = InAny(options.peers, address);
    bool counted = !Trusted(address) && !peer;
    std::shared_ptr<Session> session;
    {
      MutexLock l(&mu);
      peer = peer || peer_addresses.contains(address);
      counted = counted && !peer;
      bool over = stopping || aec || connections >= options.connections_max ||
                  (counted && per_address[address] >= options.connections_per_address_max);
      if (over) {
        socket.close(aec);  // the excess costs no thread and no answer
      } else {
        ++connections;
        if (counted) ++per_address[address];
        uint64_t id = next_id++;
        session = std::make_shared<Session>(this, std::move(socket), id, address, counted, peer);
        sessions[id] = session;
      }
    }
    if (session) {
      session->Start();
    } else {
      refused++;
    }
    if (!stopping) DoAccept();
  });
}

void HttpServer::Impl::Forget(uint64_t id, const std::string& address, bool counted) {
  MutexLock l(&mu);
  sessions.erase(id);
  --connections;
  if (counted) {
    auto it = per_address.find(address);
    if (it != per_address.end() && --it->second == 0) per_address.erase(it);
  }
  cv.SignalAll();
}

HttpServer::HttpServer(HttpHandler handler, HttpServerOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->handler = std::move(handler);
  impl_->options = std::move(options);
}

HttpServer::~HttpServer() { Stop(); }

size_t HttpServer::connections() const {
  MutexLock l(&impl_->mu);
  return impl_->connections;
}

uint64_t HttpServer::connections_refused() const { return impl_->refused.load(); }

Result<int> HttpServer::Start(const std::string& host, int port) {
  beast::error_code ec;
  if (!impl_->options.tls_cert_file.empty() || !impl_->options.tls_key_file.empty()) {
    auto tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                     asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                     asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
    SSL_CTX_set_min_proto_version(tls->native_handle(), TLS1_2_VERSION);
    const std::string& cert = impl_->options.tls_cert_file;
    const std::string& key = impl_->options.tls_key_file;
    tls->use_certificate_chain_file(cert, ec);
    if (ec)
      return Status::InvalidArgument("cannot use the TLS certificate " + cert + ": " +
                                     ec.message());
    tls->use_private_key_file(key, asio::ssl::context::pem, ec);
    if (ec) return Status::InvalidArgument("cannot use the TLS key " + key + ": " + ec.message());
    if (SSL_CTX_check_private_key(tls->native_handle()) != 1) {
      return Status::InvalidArgument("the TLS key " + key + " does not match the certificate " +
                                     cert);
    }
    impl_->tls = std::move(tls);
  }
  auto addr = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) return Status::InvalidArgument("bad listen address " + host);
  tcp::endpoint ep(addr, static_cast<unsigned short>(port));
  impl_->acceptor = std::make_unique<tcp::acceptor>(asio::make_strand(impl_->ioc));
  impl_->acceptor->open(ep.protocol(), ec);
  if (!ec) impl_->acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor->bind(ep, ec);
  if (!ec) impl_->acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return Status::IOError("cannot listen on " + host + ":" + std::to_string(port) + ": " +
                           ec.message());
  int bound = impl_->acceptor->local_endpoint().port();
  impl_->handlers = std::make_unique<asio::thread_pool>(impl_->options.handler_threads);
  impl_->work.emplace(impl_->ioc.get_executor());
  impl_->DoAccept();
  for (size_t i = 0; i < std::max<size_t>(1, impl_->options.io_threads); ++i) {
    impl_->io_threads.emplace_back([this] { impl_->ioc.run(); });
  }
  return bound;
}

void HttpServer::SetPeerAddresses(const std::vector<std::string>& addresses) {
  std::set<std::string> peers;
  for (auto& a : addresses) {
    // The accept loop compares the peer's address as asio prints it.
    beast::error_code ec;
    auto ip = asio::ip::make_address(a, ec);
    if (ec) continue;
    if (ip.is_v6() && ip.to_v6().is_v4_mapped())
      ip = asio::ip::make_address_v4(asio::ip::v4_mapped, ip.to_v6());
    peers.insert(ip.to_string());
  }
  MutexLock l(&impl_->mu);
  impl_->peer_addresses = std::move(peers);
}

void HttpServer::Stop() {
  if (!impl_ || !impl_->acceptor || impl_->stopping.exchange(true)) return;
  asio::post(impl_->acceptor->get_executor(), [this] {
    beast::error_code ec;
    impl_->acceptor->close(ec);
  });
  std::vector<std::shared_ptr<Session>> live;
  {
    MutexLock l(&impl_->mu);
    for (auto& [id, w] : impl_->sessions) {
      if (auto s = w.lock()) live.push_back(std::move(s));
    }
  }
  for (auto& s : live) s->Shutdown();
  live.clear();
  {
    // Requests in flight finish and are answered, for at most shutdown_timeout.
    auto deadline = std::chrono::steady_clock::now() + impl_->options.shutdown_timeout;
    MutexLock l(&impl_->mu);
    while (impl_->connections > 0) {
      if (!impl_->cv.WaitUntil(&impl_->mu, deadline)) break;
    }
    for (auto& [id, w] : impl_->sessions) {
      if (auto s = w.lock()) asio::post(impl_->ioc, [s] { s->Close(); });
    }
  }
  impl_->work.reset();
  impl_->ioc.stop();
  for (auto& t : impl_->io_threads) t.join();
  impl_->io_threads.clear();
  // Handlers still running finish on their own; their answers go nowhere.
  if (impl_->handlers) impl_->handlers->join();
}

}  // namespace remit
