// `remit bench http`: the HTTP path under load, as a practice's systems would drive it. A
// server on loopback (this process, a fresh data directory, the embedded log) and N keep-alive
// connections, each one request at a time, for a fixed time per cell; prints requests per
// second and p50/p99/p99.9 per cell:
//   POST /charges  at 1, 8 and 64 connections, over 1 practice and over 64 practices
//   GET balance    at 1, 8 and 64 connections, one practice (a family with 20 charges)
// The load generator shares the machine's cores with the server: figures are for comparing
// builds on one machine (docs/benchmarks.md), not a capacity claim.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "adapters/api/api.h"
#include "adapters/http/http_client.h"
#include "adapters/http/http_server.h"
#include "tools/cli.h"
#include "tools/node/node.h"

namespace remit::tools {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

struct Cell {
  std::vector<double> ms;  // every answered request's latency
  uint64_t failed = 0;     // refused connections, errors and answers other than 2xx
};

// One client: a keep-alive connection sending `next(i)` one at a time until `until`.
template <typename Next>
void Client(int port, Clock::time_point until, Next next, Cell* out) {
  boost::asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  beast::error_code ec;
  stream.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"),
                                                static_cast<unsigned short>(port)),
                 ec);
  if (ec) {
    ++out->failed;
    return;
  }
  beast::flat_buffer buffer;
  for (uint64_t i = 0; Clock::now() < until; ++i) {
    http::request<http::string_body> req = next(i);
    req.keep_alive(true);
    req.prepare_payload();
    auto start = Clock::now();
    http::write(stream, req, ec);
    http::response<http::string_body> res;
    if (!ec) http::read(stream, buffer, res, ec);
    if (ec) {
      ++out->failed;
      return;
    }
    out->ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    if (res.result_int() >= 300) ++out->failed;
  }
}

double At(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  return sorted[static_cast<size_t>(p * static_cast<double>(sorted.size() - 1))];
}

// Runs `connections` clients for `seconds` and prints the cell's line.
template <typename Make>
void RunCell(const char* label, int port, int connections, int practices, double seconds,
             Make make) {
  std::vector<Cell> cells(static_cast<size_t>(connections));
  std::vector<std::thread> threads;
  threads.reserve(cells.size());
  auto start = Clock::now();
  auto until =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&, c] { Client(port, until, make(c), &cells[static_cast<size_t>(c)]); });
  }
  for (auto& t : threads) t.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  uint64_t failed = 0;
  for (auto& c : cells) {
    all.insert(all.end(), c.ms.begin(), c.ms.end());
    failed += c.failed;
  }
  std::sort(all.begin(), all.end());
  std::printf(
      "%-14s conns %3d  practices %2d  %9.0f req/s  p50 %7.3f ms  p99 %7.3f ms  "
      "p99.9 %7.3f ms  failed %llu\n",
      label, connections, practices, static_cast<double>(all.size()) / elapsed, At(all, 0.5),
      At(all, 0.99), At(all, 0.999), static_cast<unsigned long long>(failed));
  std::fflush(stdout);
}

http::request<http::string_body> Request(http::verb verb, const std::string& target,
                                         const std::string& token, std::string body = {}) {
  http::request<http::string_body> req{verb, target, 11};
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::authorization, "Bearer " + token);
  if (!body.empty()) req.set(http::field::content_type, "application/json");
  req.body() = std::move(body);
  return req;
}

// Practices bench-0 .. bench-(n-1), each with a staff token and patient P1; the tokens.
std::vector<std::string> SetUp(int port, const std::string& op, int n) {
  std::vector<std::string> tokens;
  auto call = [&](const std::string& method, const std::string& target, const std::string& token,
                  const json& body) {
    auto r = HttpCall("127.0.0.1", port, method, target, body.dump(),
                      {{"authorization", "Bearer " + token}});
    return r.ok() ? json::parse(r->body, nullptr, false) : json();
  };
  for (int i = 0; i < n; ++i) {
    std::string p = "bench-" + std::to_string(i);
    call("POST", "/api/v1/practices", op, {{"practice_id", p}, {"name", p}});
    json t = call("POST", "/api/v1/practices/" + p + "/tokens", op, {{"role", "staff"}});
    tokens.push_back(t.value("token", ""));
    call("PUT", "/api/v1/practices/" + p + "/patients/P1", tokens.back(),
         {{"first_name", "Pat"}, {"last_name", "Bench"}});
  }
  return tokens;
}

}  // namespace

int BenchHttp(const Args& args) {
  double seconds = std::stod(args.Get("seconds").value_or("3"));
  std::string dir = std::filesystem::temp_directory_path() / ("remit-bench-http-" + RandomHex(4));
  AppOptions o;
  o.data_dir = dir;
  auto node = Node::Open(o);
  if (!node.ok()) {
    std::fprintf(stderr, "bench http: %s\n", node.status().ToString().c_str());
    return 1;
  }
  Api api((*node)->api_parts());
  HttpServer server([&api](const HttpRequest& r) { return api.Handle(r); });
  auto port = server.Start("127.0.0.1", 0);
  if (!port.ok()) return 1;
  // bench-0 .. bench-63 take the charges; bench-64's P1 is the family read, 20 charges.
  std::vector<std::string> tokens = SetUp(*port, (*node)->app->operator_token(), 65);
  for (int i = 0; i < 20; ++i) {
    json c = {{"charge_id", "r" + std::to_string(i)},
              {"patient_id", "P1"},
              {"amount_cents", 1000 + i},
              {"service_date", "2026-12-01"}};
    auto r = HttpCall("127.0.0.1", *port, "POST", "/api/v1/practices/bench-64/charges", c.dump(),
                      {{"authorization", "Bearer " + tokens[64]}});
    if (!r.ok() || r->status != 201) return 1;
  }
  std::printf("bench http: %.1f s per cell, keep-alive connections, one request at a time each\n",
              seconds);
  std::atomic<uint64_t> serial{0};
  auto charges = [&](int practices) {
    return [&, practices](int c) {
      int p = c % practices;
      return [&, p](uint64_t) {
        std::string id = "c" + std::to_string(serial++);
        json body = {{"charge_id", id},
                     {"patient_id", "P1"},
                     {"amount_cents", 100},
                     {"service_date", "2026-12-01"}};
        return Request(http::verb::post,
                       "/api/v1/practices/bench-" + std::to_string(p) + "/charges",
                       tokens[static_cast<size_t>(p)], body.dump());
      };
    };
  };
  for (int practices : {1, 64}) {
    for (int conns : {1, 8, 64}) {
      RunCell("POST /charges", *port, conns, practices, seconds, charges(practices));
    }
  }
  auto balance = [&](int) {
    return [&](uint64_t) {
      return Request(http::verb::get, "/api/v1/practices/bench-64/accounts/P1/balance", tokens[64]);
    };
  };
  for (int conns : {1, 8, 64}) RunCell("GET balance", *port, conns, 1, seconds, balance);
  server.Stop();
  node->reset();
  std::filesystem::remove_all(dir);
  std::filesystem::remove(dir + ".end");
  return 0;
}

}  // namespace remit::tools
