#include "adapters/http/http_client.h"

#include <sys/socket.h>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <set>
#include <string_view>

namespace remit {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

Result<HttpResult> HttpCall(const std::string& host, int port, const std::string& method,
                            const std::string& target, const std::string& body,
                            const std::map<std::string, std::string>& headers,
                            std::chrono::milliseconds timeout) {
  try {
    asio::io_context ioc;
    asio::ip::tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    stream.connect(resolver.resolve(host, std::to_string(port)));
    // Blocking reads and writes give up after `timeout` (beast's expiry covers async only).
    timeval tv{static_cast<time_t>(timeout.count() / 1000),
               static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
    int fd = stream.socket().native_handle();
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, host);
    if (!body.empty()) req.set(http::field::content_type, "application/json");
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    parser.skip(method == "HEAD");  // a HEAD answer has a length and no body
    http::read(stream, buffer, parser);
    auto& res = parser.get();
    HttpResult out;
    out.status = static_cast<int>(res.result_int());
    out.body = res.body();
    for (const auto& f : res) {
      std::string name(f.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers[name] = std::string(f.value());
    }
    beast::error_code ec;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    return out;
  } catch (const std::exception& e) {
    return Status::IOError(std::string("HTTP ") + method + " " + target + ": " + e.what());
  }
}

bool SplitHttpUrl(const std::string& url, std::string* host, int* port) {
  std::string_view rest(url);
  if (rest.starts_with("http://")) rest.remove_prefix(7);
  rest = rest.substr(0, rest.find('/'));
  auto c = rest.rfind(':');
  if (c == std::string_view::npos || c + 1 == rest.size()) return false;
  std::string_view h = rest.substr(0, c);
  if (h.starts_with('[') && h.ends_with(']')) h = h.substr(1, h.size() - 2);
  int p = 0;
  for (char d : rest.substr(c + 1)) {
    if (d < '0' || d > '9' || p > 65535) return false;
    p = p * 10 + (d - '0');
  }
  if (h.empty() || p < 1 || p > 65535) return false;
  *host = std::string(h);
  *port = p;
  return true;
}

std::vector<std::string> AddressesInUrls(const std::vector<std::string>& urls) {
  std::set<std::string> out;
  for (const auto& url : urls) {
    std::string host;
    int port = 0;
    boost::system::error_code ec;
    if (!SplitHttpUrl(url, &host, &port)) continue;
    auto ip = asio::ip::make_address(host, ec);
    if (!ec) out.insert(ip.to_string());
  }
  return {out.begin(), out.end()};
}

}  // namespace remit
