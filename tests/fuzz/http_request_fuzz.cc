// libFuzzer target: what the HTTP server does with a client's bytes before any handler runs.
// The input is fed to Beast's request parser with the server's limits (as the server's Feed
// does); a parsed request's target goes through ParseTarget (percent-decoding, the
// UTF-8 and control-byte checks, the query), and every decoded piece through LogSafe. Nothing
// may crash; an accepted path must be valid UTF-8 with no control bytes, and LogSafe's output
// printable ASCII.
#include <boost/beast/http.hpp>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "adapters/http/http_server.h"

using namespace remit;
namespace http = boost::beast::http;

namespace {

void CheckLogSafe(const std::string& s) {
  for (char c : LogSafe(s)) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  http::request_parser<http::string_body> parser;
  parser.body_limit(HttpServer::kBodyBytesMax);
  parser.header_limit(HttpServer::kHeaderBytesMax);
  parser.eager(true);
  boost::beast::error_code ec;
  std::string_view rest(in);
  while (!rest.empty() && !parser.is_done()) {
    size_t n = parser.put(boost::asio::buffer(rest.data(), rest.size()), ec);
    if (ec == http::error::need_more) break;
    if (ec) return 0;
    if (n == 0) break;
    rest.remove_prefix(n);
  }
  if (!parser.is_done()) return 0;
  auto& req = parser.get();
  HttpRequest r;
  r.target = std::string(req.target());
  bool ok = ParseTarget(&r);
  if (ok) {
    if (!IsValidUtf8(r.path)) std::abort();
    for (char c : r.path) {
      if (static_cast<unsigned char>(c) < 0x20) std::abort();
    }
  }
  CheckLogSafe(r.target);
  CheckLogSafe(r.path);
  for (const auto& [k, v] : r.query) {
    CheckLogSafe(k);
    CheckLogSafe(v);
  }
  return 0;
}
