// HTTPS: with a certificate and key the server speaks TLS 1.2 or newer only, answers carry
// Strict-Transport-Security, plain HTTP on the port gets no answer, and a key that does not
// fit the certificate is refused at start. The certificate is made by the test (openssl).
#define BOOST_TEST_MODULE tls
#include <openssl/ssl.h>

#include <chrono>
#include <string>
#include <utility>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/test/unit_test.hpp>

#include "test_util.h"

using namespace remit;
using remit::testing::RunCommand;
using remit::testing::TempDir;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// A self-signed certificate for 127.0.0.1 in `dir`: cert.pem and key.pem.
void MakeCertificate(const std::string& dir, const std::string& name = "") {
  std::string out;
  std::string cmd =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
      "-addext subjectAltName=IP:127.0.0.1 -keyout " +
      dir + "/" + name + "key.pem -out " + dir + "/" + name + "cert.pem 2>&1";
  BOOST_REQUIRE_MESSAGE(RunCommand(cmd, &out) == 0, out);
}

struct Answer {
  bool handshake = false;
  int status = 0;
  std::string hsts, version;
};

// One GET over TLS, trusting only `ca`; `max_version` caps what the client offers.
Answer Get(int port, const std::string& ca, int max_version = 0) {
  asio::io_context ioc;
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.load_verify_file(ca);
  ctx.set_verify_mode(asio::ssl::verify_peer);
  if (max_version != 0) {
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_VERSION);
    SSL_CTX_set_max_proto_version(ctx.native_handle(), max_version);
    SSL_CTX_set_security_level(ctx.native_handle(), 0);  // let the old version be offered at all
  }
  asio::ssl::stream<tcp::socket> s(ioc, ctx);
  Answer a;
  boost::system::error_code ec;
  s.lowest_layer().connect(
      tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)), ec);
  if (ec) return a;
  s.handshake(asio::ssl::stream_base::client, ec);
  if (ec) return a;
  a.handshake = true;
  a.version = SSL_get_version(s.native_handle());
  http::request<http::empty_body> req(http::verb::get, "/hello", 11);
  req.set(http::field::host, "127.0.0.1");
  http::write(s, req, ec);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(s, buf, res, ec);
  if (ec) return a;
  a.status = res.result_int();
  a.hsts = std::string(res[http::field::strict_transport_security]);
  return a;
}

}  // namespace

BOOST_AUTO_TEST_CASE(https_with_tls_1_2_or_newer_and_hsts) {
  TempDir dir;
  MakeCertificate(dir.path());
  HttpServerOptions o;
  o.tls_cert_file = dir.path() + "/cert.pem";
  o.tls_key_file = dir.path() + "/key.pem";
  HttpServer server(
      [](const HttpRequest& r) {
        return HttpResponse{200, "text/plain", "hello " + r.path, {}};
      },
      o);
  auto port = server.Start("127.0.0.1", 0);
  BOOST_REQUIRE_MESSAGE(port.ok(), port.status().ToString());

  Answer ok = Get(*port, o.tls_cert_file);
  BOOST_TEST(ok.handshake);
  BOOST_TEST(ok.status == 200);
  BOOST_TEST((ok.version == "TLSv1.3" || ok.version == "TLSv1.2"), ok.version);
  BOOST_TEST(ok.hsts == "max-age=31536000");
  Answer v12 = Get(*port, o.tls_cert_file, TLS1_2_VERSION);
  BOOST_TEST(v12.status == 200);
  BOOST_TEST(v12.version == "TLSv1.2");
  // Older versions are refused at the handshake.
  BOOST_TEST(!Get(*port, o.tls_cert_file, TLS1_1_VERSION).handshake);
  BOOST_TEST(!Get(*port, o.tls_cert_file, TLS1_VERSION).handshake);
  // Plain HTTP on the TLS port gets no HTTP answer.
  auto plain = HttpCall("127.0.0.1", *port, "GET", "/hello", "", {}, std::chrono::seconds(3));
  BOOST_TEST(!(plain.ok() && plain->status == 200));
  // A client that does not trust the certificate does not get through.
  TempDir other;
  MakeCertificate(other.path());
  BOOST_TEST(!Get(*port, other.path() + "/cert.pem").handshake);
  server.Stop();
}

BOOST_AUTO_TEST_CASE(a_key_that_does_not_fit_the_certificate_is_refused_at_start) {
  TempDir dir;
  MakeCertificate(dir.path(), "a-");
  MakeCertificate(dir.path(), "b-");
  HttpServerOptions o;
  o.tls_cert_file = dir.path() + "/a-cert.pem";
  o.tls_key_file = dir.path() + "/b-key.pem";
  HttpServer server([](const HttpRequest&) { return HttpResponse{}; }, o);
  auto port = server.Start("127.0.0.1", 0);
  BOOST_TEST(!port.ok());
  BOOST_TEST(port.status().ToString().find("b-key.pem") != std::string::npos,
             port.status().ToString());
  o.tls_key_file = dir.path() + "/missing.pem";
  HttpServer missing([](const HttpRequest&) { return HttpResponse{}; }, o);
  BOOST_TEST(!missing.Start("127.0.0.1", 0).ok());
}
