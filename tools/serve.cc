// `remit serve` and `remit token create`.
#include <signal.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "adapters/api/api.h"
#include "adapters/app/app.h"
#include "adapters/http/http_client.h"
#include "adapters/http/http_server.h"
#include "adapters/kafka/kafka_mock.h"
#include "tools/cli.h"
#include "tools/node/demo.h"
#include "tools/node/node.h"

namespace remit::tools {
namespace {

bool SplitHostPort(const std::string& s, std::string* host, int* port) {
  auto c = s.rfind(':');
  if (c == std::string::npos) return false;
  *host = s.substr(0, c);
  try {
    *port = std::stoi(s.substr(c + 1));
  } catch (...) {
    return false;
  }
  return *port >= 0 && *port < 65536 && !host->empty();
}

std::string ServerFile(const std::string& data) { return data + "/server.json"; }

}  // namespace

std::optional<Result<HttpResult>> CallRunningServer(const std::string& data,
                                                    const std::string& token_file,
                                                    const std::string& method,
                                                    const std::string& path,
                                                    const std::string& body) {
  auto server = ReadFile(ServerFile(data));
  if (!server.ok()) return std::nullopt;
  auto info = nlohmann::json::parse(server.value(), nullptr, false);
  std::string host;
  int port = 0;
  auto op = ReadFile(token_file.empty() ? data + "/operator-token" : token_file);
  if (info.is_discarded() || !op.ok() || !SplitHostPort(info.value("listen", ""), &host, &port) ||
      ::kill(info.value("pid", 0), 0) != 0) {
    return std::nullopt;
  }
  std::string token = op.value();
  while (!token.empty() && (token.back() == '\n' || token.back() == ' ')) token.pop_back();
  return HttpCall(host == "0.0.0.0" ? "127.0.0.1" : host, port, method, path, body,
                  {{"Authorization", "Bearer " + token}});
}

namespace {

// SIGTERM and SIGINT are taken by sigwait; they are blocked before any thread starts, so
// every thread inherits the mask.
sigset_t BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

// "CIDR[,CIDR...]" into *out; false on any range that does not parse.
bool ParseCidrList(std::string_view text, std::vector<Cidr>* out) {
  while (!text.empty()) {
    auto comma = text.find(',');
    auto cidr = Cidr::Parse(text.substr(0, comma));
    if (!cidr) return false;
    out->push_back(*cidr);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
  }
  return true;
}

}  // namespace

int Serve(const Args& args) {
  auto data = args.Get("data");
  std::string listen = args.Get("listen").value_or("127.0.0.1:8080");
  std::string host;
  int port = 0;
  if (!data || data->empty() || !SplitHostPort(listen, &host, &port)) {
    std::fprintf(stderr, "remit serve: --data DIR and --listen HOST:PORT are required\n");
    return 2;
  }
  for (const char* flag : {"public-url", "advertise-url"}) {
    auto v = args.Get(flag);
    // Processes call each other over plain HTTP (TLS is for clients, and not in Kafka mode).
    bool https_ok = std::string(flag) == "public-url";
    if (v && !v->starts_with("http://") && !(https_ok && v->starts_with("https://"))) {
      std::fprintf(stderr, "remit serve: --%s takes an http://%s URL, not '%s'\n", flag,
                   https_ok ? " or https://" : "", v->c_str());
      return 2;
    }
  }
  std::optional<KafkaSetup> kafka;
  if (auto brokers = args.Get("kafka-brokers")) {
    if (brokers->empty() || args.Has("read-only")) {
      std::fprintf(stderr,
                   "remit serve: --kafka-brokers takes HOST:PORT[,...] (and not --read-only)\n");
      return 2;
    }
    kafka = KafkaSetup{};
    kafka->brokers = *brokers;
    kafka->topic_prefix = args.Get("kafka-topics").value_or("remit");
    kafka->group = args.Get("kafka-group").value_or("remit");
  }
  // HTTPS: both files or neither. Not with Kafka yet: the processes forward writes to each other
  // over plain HTTP (docs/security.md).
  auto tls_cert = args.Get("tls-cert"), tls_key = args.Get("tls-key");
  if (tls_cert.has_value() != tls_key.has_value() ||
      (tls_cert && (tls_cert->empty() || tls_key->empty()))) {
    std::fprintf(stderr, "remit serve: --tls-cert FILE and --tls-key FILE go together\n");
    return 2;
  }
  if (tls_cert && kafka) {
    std::fprintf(
        stderr,
        "remit serve: TLS in remit is not built for Kafka mode; terminate TLS in a proxy\n");
    return 2;
  }
  // Seconds between background storage checks (the first runs at once).
  long check_interval_s = 3600;
  if (auto v = args.Get("storage-check-s")) {
    char* end = nullptr;
    check_interval_s = std::strtol(v->c_str(), &end, 10);
    if (v->empty() || *end != '\0' || check_interval_s < 1 || check_interval_s > 7 * 24 * 3600) {
      std::fprintf(stderr, "remit serve: --storage-check-s takes whole seconds from 1 to 604800\n");
      return 2;
    }
  }
  // Behind a reverse proxy every client arrives on the proxy's address: connections from these
  // ranges are not capped per address, and X-Forwarded-For names the client.
  HttpServerOptions http_options;
  if (tls_cert) {
    http_options.tls_cert_file = *tls_cert;
    http_options.tls_key_file = *tls_key;
  }
  // The other remit processes of a Kafka cluster are exempt from the per-address cap too (their
  // forwarded writes are bounded by their own handler pools): those whose advertised URL is an
  // address are found from the cluster's membership; --peer names the rest.
  for (auto [flag, ranges] : {std::pair{"trusted-proxy", &http_options.trusted_proxies},
                              std::pair{"peer", &http_options.peers}}) {
    auto v = args.Get(flag);
    if (v && !ParseCidrList(*v, ranges)) {
      std::fprintf(stderr, "remit serve: --%s takes CIDR[,CIDR...] (10.0.0.0/8, ::1), not '%s'\n",
                   flag, v->c_str());
      return 2;
    }
  }
  sigset_t set = BlockStopSignals();

  AppOptions opts;
  opts.data_dir = *data;
  opts.operator_token_file = args.Get("operator-token-file").value_or("");
  opts.secrets_key_file = args.Get("secrets-key").value_or("");
  opts.read_only = args.Has("read-only");
  auto node_r = Node::Open(opts, kafka);
  if (!node_r.ok()) {
    std::fprintf(stderr, "remit serve: %s\n", node_r.status().ToString().c_str());
    return 1;
  }
  std::unique_ptr<Node> node = std::move(node_r.value());
  App* app = node->app.get();
  if (!opts.read_only) node->StartStorageCheck(std::chrono::seconds(check_interval_s));
  Api api(node->api_parts());
  HttpServer server([&api](const HttpRequest& r) { return api.Handle(r); }, http_options);
  auto bound = server.Start(host, port);
  if (!bound.ok()) {
    std::fprintf(stderr, "remit serve: %s\n", bound.status().ToString().c_str());
    return 1;
  }
  std::string base = (tls_cert ? "https://" : "http://") + host + ":" + std::to_string(*bound);
  std::string public_url = args.Get("public-url").value_or(base);
  while (!public_url.empty() && public_url.back() == '/') public_url.pop_back();
  app->SetPublicUrl(public_url);
  // Where the other remit processes reach this one (writes forwarded to a practice's owner).
  // Not the public URL: behind a load balancer that is a name the processes may not resolve,
  // or one that lands on any process.
  std::string local = host == "0.0.0.0" ? "127.0.0.1" : host;
  std::string advertise =
      args.Get("advertise-url").value_or("http://" + local + ":" + std::to_string(*bound));
  while (!advertise.empty() && advertise.back() == '/') advertise.pop_back();
  app->SetAdvertiseUrl(advertise);

  if (kafka) {
    // Peers reach this process at its advertised URL: join the group only now that it listens.
    Status s = node->StartMembership([&server](const std::vector<std::string>& urls) {
      server.SetPeerAddresses(AddressesInUrls(urls));
    });
    if (!s.ok()) {
      std::fprintf(stderr, "remit serve: Kafka: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  // The membership calls into the server: on every return it stops before the server goes.
  struct MembershipStop {
    std::unique_ptr<Node>& node;
    ~MembershipStop() {
      if (node) node->membership.reset();
    }
  } membership_stop{node};
  nlohmann::json info = {{"listen", host + ":" + std::to_string(*bound)}, {"pid", ::getpid()}};
  WriteFileMode(ServerFile(*data), info.dump() + "\n", 0600).IgnoreError();

  std::printf("remit is serving on %s%s\n", base.c_str(), opts.read_only ? " (read-only)" : "");
  if (kafka) {
    std::printf("  event log: Kafka at %s, topics %s.*, group %s\n", kafka->brokers.c_str(),
                kafka->topic_prefix.c_str(), kafka->group.c_str());
  }
  if (!app->degraded_reason().empty()) {
    std::printf(
        "  the log does not verify: %s\n  serving what could be read; "
        "run `remit audit verify --data %s`\n",
        app->degraded_reason().c_str(), data->c_str());
  }
  std::printf("  health:   %s/healthz\n  metrics:  %s/metrics\n", base.c_str(), base.c_str());
  if (app->created_operator_token()) {
    std::printf("  operator token (also in %s):\n    %s\n",
                app->options().operator_token_file.c_str(), app->operator_token().c_str());
  }
  if (args.Has("demo")) {
    if (app->log().EndOffset() == 0) {
      auto demo = LoadDemo(node.get());
      if (!demo.ok()) {
        std::fprintf(stderr, "remit serve: demo: %s\n", demo.status().ToString().c_str());
        return 1;
      }
      std::printf("demo practice '%s' loaded\n", demo->practice_id.c_str());
      std::printf("  staff dashboard:  %s/staff\n", public_url.c_str());
      std::printf("  staff admin token: %s\n", demo->admin_token.c_str());
      std::printf("  patient portal:   %s/portal/%s\n", public_url.c_str(),
                  demo->practice_id.c_str());
      std::printf("  demo patient Jane Doe (guarantor of Sam and Lily):\n");
      std::printf("    confirm identity with phone %s (or initials JD)\n", demo->phone.c_str());
      std::printf("    username %s, password %s\n", demo->username.c_str(), demo->password.c_str());
      std::printf("    authenticator secret %s\n    (%s)\n", demo->totp_secret_base32.c_str(),
                  demo->otpauth_uri.c_str());
      std::printf("  enrolment link for Sam Doe (a dependent): %s\n", demo->invite_url.c_str());
      std::printf("  test cards: 4242424242424242 succeeds, 4000000000000002 is declined\n");
      std::printf(
          "  try: curl -H 'Authorization: Bearer %s' %s/api/v1/practices/%s/accounts/%s/balance\n",
          demo->admin_token.c_str(), base.c_str(), demo->practice_id.c_str(),
          demo->guarantor_id.c_str());
    } else {
      std::printf("demo: the data directory is not empty; the demo loads only into an empty one\n");
    }
  }
  std::printf("remit is ready (SIGTERM or Ctrl-C stops it)\n");
  std::fflush(stdout);

  int sig = 0;
  sigwait(&set, &sig);
  spdlog::info("signal {}: stopping", sig);
  server.Stop();
  ::unlink(ServerFile(*data).c_str());
  node.reset();
  std::printf("remit stopped\n");
  return 0;
}

int KafkaDev(const Args& args) {
  int brokers = MockKafkaCluster::kBrokersDefault;
  if (auto b = args.Get("brokers")) {
    try {
      brokers = std::stoi(*b);
    } catch (...) {
      brokers = 0;
    }
    if (brokers < 1 || brokers > 9) {
      std::fprintf(stderr, "remit kafka-dev: --brokers takes 1 to 9\n");
      return 2;
    }
  }
  sigset_t set = BlockStopSignals();
  auto cluster = MockKafkaCluster::Start(brokers);
  if (!cluster.ok()) {
    std::fprintf(stderr, "remit kafka-dev: %s\n", cluster.status().ToString().c_str());
    return 1;
  }
  // The topics `remit serve --kafka-brokers` uses (docs/kafka.md), created up front: the mock
  // has no CreateTopics API.
  std::string prefix = args.Get("topics").value_or("remit");
  int partitions = std::atoi(args.Get("partitions").value_or("12").c_str());
  if (partitions < 1 || partitions > 1024) {
    std::fprintf(stderr, "remit kafka-dev: --partitions takes 1 to 1024\n");
    return 2;
  }
  Status made = (*cluster)->CreateTopic(prefix + ".events", partitions);
  for (const char* single : {".owners", ".secrets", ".sandbox-gateway", ".idempotency"}) {
    if (made.ok()) made = (*cluster)->CreateTopic(prefix + single, 1);
  }
  if (!made.ok()) {
    std::fprintf(stderr, "remit kafka-dev: %s\n", made.ToString().c_str());
    return 1;
  }
  std::printf(
      "librdkafka mock cluster with %d brokers (in memory: for trying Kafka mode, not for "
      "data you keep); topics %s.events (%d partitions), %s.owners, %s.secrets, "
      "%s.sandbox-gateway, %s.idempotency; SIGTERM or Ctrl-C stops it\n"
      "try: remit serve --data DIR --listen 127.0.0.1:0 --kafka-brokers %s "
      "--operator-token-file F --secrets-key K\nbootstrap servers:\n%s\n",
      brokers, prefix.c_str(), partitions, prefix.c_str(), prefix.c_str(), prefix.c_str(),
      prefix.c_str(), (*cluster)->bootstrap_servers().c_str(),
      (*cluster)->bootstrap_servers().c_str());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  cluster->reset();
  return 0;
}

int TokenCreate(const Args& args) {
  auto data = args.Get("data");
  auto practice = args.Get("practice");
  auto role = args.Get("role");
  std::string label = args.Get("label").value_or("cli");
  if (!data || !practice || !role || RoleRank(*role) == 0) {
    std::fprintf(stderr,
                 "remit token create: --data DIR --practice ID --role admin|staff|auditor\n");
    return 2;
  }
  // A running server holds the data directory: ask it. Otherwise open the directory directly.
  nlohmann::json body = {{"role", *role}, {"label", label}};
  if (auto r = CallRunningServer(*data, args.Get("operator-token-file").value_or(""), "POST",
                                 "/api/v1/practices/" + *practice + "/tokens", body.dump())) {
    if (!r->ok()) {
      std::fprintf(stderr, "remit token create: %s\n", r->status().ToString().c_str());
      return 1;
    }
    if ((*r)->status != 201) {
      std::fprintf(stderr, "remit token create: server answered %d: %s\n", (*r)->status,
                   (*r)->body.c_str());
      return 1;
    }
    auto j = nlohmann::json::parse((*r)->body);
    std::printf("token_id %s role %s\n%s\n", j.value("token_id", "").c_str(), role->c_str(),
                j.value("token", "").c_str());
    return 0;
  }
  AppOptions opts;
  opts.data_dir = *data;
  opts.operator_token_file = args.Get("operator-token-file").value_or("");
  auto app = App::Open(opts);
  if (!app.ok()) {
    std::fprintf(stderr, "remit token create: %s\n", app.status().ToString().c_str());
    return 1;
  }
  if (!(*app)->PracticeExists(*practice)) {
    std::fprintf(stderr, "remit token create: no practice %s\n", practice->c_str());
    return 1;
  }
  auto t = (*app)->CreateToken(*practice, *role, label, "operator");
  if (!t.ok()) {
    std::fprintf(stderr, "remit token create: %s\n", t.status().ToString().c_str());
    return 1;
  }
  std::printf("token_id %s role %s\n%s\n", t->first.c_str(), role->c_str(), t->second.c_str());
  return 0;
}

}  // namespace remit::tools
