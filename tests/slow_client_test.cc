// No client can take the HTTP server down. While one address holds 2,000 idle connections and
// another 100 that drip a request one byte at a time, an ordinary client on a third address is
// answered quickly and never refused; the drippers are cut off at the request deadline, the
// idle excess is closed at accept, and Stop() ends within its bound. Loopback only (127.0.0.x),
// every loop bounded in count and time.
#define BOOST_TEST_MODULE slow_client
#include <algorithm>
#include <chrono>
#include <mutex>
#include <thread>
#include <utility>

#include <boost/asio.hpp>
#include <boost/test/unit_test.hpp>

#include "test_util.h"

using namespace remit;
using remit::testing::TempDir;
using remit::testing::TestServer;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

// A blocking connection from `local` (a loopback address) to the server.
std::unique_ptr<tcp::socket> Connect(asio::io_context& ioc, const std::string& local, int port) {
  auto s = std::make_unique<tcp::socket>(ioc);
  boost::system::error_code ec;
  s->open(tcp::v4(), ec);
  s->bind(tcp::endpoint(asio::ip::make_address(local), 0), ec);
  s->connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)),
             ec);
  if (ec) return nullptr;
  return s;
}

// True when the server has closed `s` (a read returns end of file or an error at once).
bool ClosedByServer(tcp::socket& s) {
  s.non_blocking(true);
  char c;
  boost::system::error_code ec;
  s.read_some(asio::buffer(&c, 1), ec);
  return ec && ec != asio::error::would_block;
}

// One GET /healthz from 127.0.0.2 on a fresh connection: its status, and its time in ms.
std::pair<int, double> Probe(asio::io_context& ioc, int port) {
  auto start = Clock::now();
  auto s = Connect(ioc, "127.0.0.2", port);
  if (!s) return {0, 0};
  std::string req = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  boost::system::error_code ec;
  asio::write(*s, asio::buffer(req), ec);
  std::string reply;
  char buf[1024];
  for (;;) {
    size_t n = s->read_some(asio::buffer(buf), ec);
    reply.append(buf, n);
    if (ec) break;
  }
  double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  int status = reply.starts_with("HTTP/1.1 ") ? std::atoi(reply.c_str() + 9) : 0;
  return {status, ms};
}

// A server that answers "ok" and remembers the client address of the last request.
struct AddressRecorder {
  std::mutex mu;
  std::string seen;  // GUARDED_BY(mu)
  HttpServer server;
  explicit AddressRecorder(const HttpServerOptions& o)
      : server(
            [this](const HttpRequest& r) {
              std::lock_guard<std::mutex> l(mu);
              seen = r.client_address;
              return HttpResponse{200, "text/plain", "ok", {}};
            },
            o) {}
  std::string Seen() {
    std::lock_guard<std::mutex> l(mu);
    return seen;
  }
};

// Sends one GET with this X-Forwarded-For on `s` and reads until the server closes.
void GetWithForwardedFor(tcp::socket& s, const std::string& forwarded_for) {
  std::string req = "GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: " + forwarded_for +
                    "\r\nConnection: close\r\n\r\n";
  boost::system::error_code ec;
  asio::write(s, asio::buffer(req), ec);
  char buf[256];
  while (!ec) s.read_some(asio::buffer(buf), ec);
}

}  // namespace

BOOST_AUTO_TEST_CASE(idle_and_slow_drip_clients_cost_no_one_else_anything) {
  TempDir dir;
  HttpServerOptions o;
  o.request_timeout = std::chrono::milliseconds(1500);
  o.idle_timeout = std::chrono::seconds(60);  // the idle hog stays for the whole test
  o.connections_per_address_max = 512;
  TestServer server(dir.path(), o);
  const int port = server.port();
  asio::io_context ioc;

  // 100 drippers from 127.0.0.3: a request header, one byte every 200 ms.
  std::vector<std::unique_ptr<tcp::socket>> drip;
  for (int i = 0; i < 100; ++i) {
    auto s = Connect(ioc, "127.0.0.3", port);
    BOOST_REQUIRE(s);
    drip.push_back(std::move(s));
  }
  // 2,000 idle connections from 127.0.0.1: the first 512 are kept, the rest closed at accept.
  std::vector<std::unique_ptr<tcp::socket>> idle;
  for (int i = 0; i < 2000; ++i) {
    auto s = Connect(ioc, "127.0.0.1", port);
    if (s) idle.push_back(std::move(s));
  }
  BOOST_TEST_MESSAGE("idle connections made: " << idle.size());

  const std::string slow =
      "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
  std::atomic<bool> stop{false};
  const auto drip_start = Clock::now();
  std::thread dripper([&] {
    for (size_t at = 0; at < slow.size() && !stop; ++at) {
      for (auto& s : drip) {
        boost::system::error_code ec;
        s->write_some(asio::buffer(&slow[at], 1), ec);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  });

  // Meanwhile an ordinary client from another address: every request answered, quickly.
  std::vector<double> ms;
  int refused = 0;
  auto until = Clock::now() + std::chrono::seconds(4);
  for (int i = 0; i < 400 && Clock::now() < until; ++i) {
    auto [status, t] = Probe(ioc, port);
    if (status != 200) ++refused;
    ms.push_back(t);
  }
  std::sort(ms.begin(), ms.end());
  double p50 = ms[ms.size() / 2], p99 = ms[std::min(ms.size() - 1, ms.size() * 99 / 100)];
  std::printf(
      "slow clients: %zu probes, p50 %.2f ms, p99 %.2f ms, %d refused; %zu open, %llu closed at "
      "accept\n",
      ms.size(), p50, p99, refused, server.http().connections(),
      static_cast<unsigned long long>(server.http().connections_refused()));
  BOOST_TEST(refused == 0);
  BOOST_TEST(ms.size() >= 50u);
  BOOST_TEST(p99 <= 50.0);
  // The hog got no more than its cap; the rest was closed at once.
  BOOST_TEST(server.http().connections() <= 512u + 100u + 1u);
  BOOST_TEST(server.http().connections_refused() >= 2000u - 512u);

  // Once the drippers' request deadline (1.5 s from their first byte) has passed, they are
  // closed, though they are still sending (their request would take 14 s).
  int cut = 0;
  for (auto deadline = drip_start + std::chrono::seconds(4);
       cut < 100 && Clock::now() < deadline;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    if (Clock::now() < drip_start + std::chrono::milliseconds(1500)) continue;
    cut = 0;
    for (auto& s : drip) cut += ClosedByServer(*s) ? 1 : 0;
  }
  BOOST_TEST(cut == 100);
  stop = true;
  dripper.join();

  // Stop is bounded while hundreds of idle connections are open.
  auto t0 = Clock::now();
  server.http().Stop();
  double stop_s = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("stop with %zu idle connections open: %.3f s\n", idle.size(), stop_s);
  BOOST_TEST(stop_s < 5.0);
}

BOOST_AUTO_TEST_CASE(a_client_that_never_reads_its_answer_is_cut_off_and_does_not_block_stop) {
  TempDir dir;
  HttpServerOptions o;
  o.write_timeout = std::chrono::milliseconds(500);
  TestServer server(dir.path(), o);
  asio::io_context ioc;
  auto s = Connect(ioc, "127.0.0.4", server.port());
  BOOST_REQUIRE(s);
  // Shrink our receive window and ask for many large answers without reading any.
  s->set_option(asio::socket_base::receive_buffer_size(4096));
  std::string reqs;
  for (int i = 0; i < 2000; ++i) reqs += "GET /openapi.yaml HTTP/1.1\r\nHost: x\r\n\r\n";
  boost::system::error_code ec;
  asio::write(*s, asio::buffer(reqs), ec);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  auto t0 = Clock::now();
  server.http().Stop();
  BOOST_TEST(std::chrono::duration<double>(Clock::now() - t0).count() < 5.0);
}

BOOST_AUTO_TEST_CASE(cidr_and_forwarded_client) {
  auto v4 = Cidr::Parse("10.1.0.0/16");
  BOOST_REQUIRE(v4);
  BOOST_TEST(v4->Contains("10.1.200.3"));
  BOOST_TEST(!v4->Contains("10.2.0.1"));
  BOOST_TEST(!v4->Contains("not an address"));
  auto one = Cidr::Parse("127.0.0.5");
  BOOST_REQUIRE(one);
  BOOST_TEST(one->Contains("127.0.0.5"));
  BOOST_TEST(!one->Contains("127.0.0.6"));
  auto v6 = Cidr::Parse("::1/128");
  BOOST_REQUIRE(v6);
  BOOST_TEST(v6->Contains("::1"));
  BOOST_TEST(!Cidr::Parse("10.0.0.0/33"));
  BOOST_TEST(!Cidr::Parse("nonsense"));
}

// Behind a trusted proxy the client is X-Forwarded-For's last untrusted address, and the proxy
// is not held to the per-address cap.
BOOST_AUTO_TEST_CASE(a_trusted_proxy_is_not_capped_and_names_its_clients) {
  HttpServerOptions o;
  o.connections_per_address_max = 4;
  o.trusted_proxies = {*Cidr::Parse("127.0.0.6/32")};
  AddressRecorder rec(o);
  auto port = rec.server.Start("127.0.0.1", 0);
  BOOST_REQUIRE(port.ok());
  asio::io_context ioc;
  std::vector<std::unique_ptr<tcp::socket>> from_proxy;
  for (int i = 0; i < 20; ++i) from_proxy.push_back(Connect(ioc, "127.0.0.6", *port));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  BOOST_TEST(rec.server.connections_refused() == 0u);
  GetWithForwardedFor(*from_proxy.back(), "203.0.113.7, 127.0.0.6");
  BOOST_TEST(rec.Seen() == "203.0.113.7");
  // An untrusted address is capped at 4, and its X-Forwarded-For is ignored.
  std::vector<std::unique_ptr<tcp::socket>> plain;
  for (int i = 0; i < 10; ++i) plain.push_back(Connect(ioc, "127.0.0.7", *port));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  BOOST_TEST(rec.server.connections_refused() == 6u);
  auto direct = Connect(ioc, "127.0.0.8", *port);
  GetWithForwardedFor(*direct, "203.0.113.7, 127.0.0.6");
  BOOST_TEST(rec.Seen() == "127.0.0.8");
  rec.server.Stop();
}

// The other remit processes are exempt from the per-address cap, named by range (`peers`) or
// learnt from the cluster (SetPeerAddresses); unlike a trusted proxy, their X-Forwarded-For
// is not believed.
BOOST_AUTO_TEST_CASE(peers_are_not_capped_and_do_not_name_clients) {
  HttpServerOptions o;
  o.connections_per_address_max = 3;
  o.peers = {*Cidr::Parse("127.0.0.20/31")};  // .20 and .21
  AddressRecorder rec(o);
  HttpServer& server = rec.server;
  auto port = server.Start("127.0.0.1", 0);
  BOOST_REQUIRE(port.ok());
  asio::io_context ioc;
  auto settle = [] { std::this_thread::sleep_for(std::chrono::milliseconds(200)); };
  auto open = [&](const std::string& from, int n) {
    std::vector<std::unique_ptr<tcp::socket>> v;
    for (int i = 0; i < n; ++i) v.push_back(Connect(ioc, from, *port));
    return v;
  };
  auto static_peer = open("127.0.0.21", 10);
  settle();
  BOOST_TEST(server.connections_refused() == 0u);
  auto learnt_before = open("127.0.0.22", 10);  // not yet a peer: capped at 3
  settle();
  BOOST_TEST(server.connections_refused() == 7u);
  server.SetPeerAddresses({"127.0.0.22", "not an address"});
  auto learnt = open("127.0.0.22", 10);
  settle();
  BOOST_TEST(server.connections_refused() == 7u);
  BOOST_TEST(server.connections() == 23u);

  GetWithForwardedFor(*static_peer.back(), "203.0.113.7");
  BOOST_TEST(rec.Seen() == "127.0.0.21");

  // A member that leaves is capped again for its new connections.
  server.SetPeerAddresses({});
  learnt_before.clear();
  learnt.clear();
  settle();
  auto after = open("127.0.0.22", 5);
  settle();
  BOOST_TEST(server.connections_refused() == 9u);
  server.Stop();
}

BOOST_AUTO_TEST_CASE(peer_urls_to_addresses) {
  std::string host;
  int port = 0;
  BOOST_TEST(SplitHttpUrl("http://10.1.2.3:8080/x", &host, &port));
  BOOST_TEST(host == "10.1.2.3");
  BOOST_TEST(port == 8080);
  BOOST_TEST(SplitHttpUrl("http://[::1]:9", &host, &port));
  BOOST_TEST(host == "::1");
  BOOST_TEST(!SplitHttpUrl("http://a:0", &host, &port));
  BOOST_TEST(!SplitHttpUrl("http://a:70000", &host, &port));
  BOOST_TEST(!SplitHttpUrl("http://a:8x", &host, &port));
  BOOST_TEST(!SplitHttpUrl("http://a", &host, &port));
  auto a = AddressesInUrls({"http://10.0.0.5:8080", "http://portal.test:8080",
                            "http://10.0.0.5:8081", "http://[::ffff:10.0.0.6]:1", "garbage"});
  BOOST_TEST((a == std::vector<std::string>{"10.0.0.5", "::ffff:10.0.0.6"}));
}
