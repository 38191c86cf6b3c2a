// remit: the payment ledger behind a patient portal. Entry point of every subcommand.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>

#include "tools/cli.h"

namespace remit::tools {

Args ParseArgs(int argc, char** argv, int from, const std::vector<std::string>& bare) {
  Args a;
  for (int i = from; i < argc; ++i) {
    std::string s = argv[i];
    if (s.starts_with("--")) {
      std::string name = s.substr(2);
      auto eq = name.find('=');
      if (eq != std::string::npos) {
        a.flags[name.substr(0, eq)] = name.substr(eq + 1);
      } else if (std::find(bare.begin(), bare.end(), name) != bare.end() || i + 1 >= argc) {
        a.flags[name] = "";
      } else {
        a.flags[name] = argv[++i];
      }
    } else {
      a.words.push_back(s);
    }
  }
  return a;
}

}  // namespace remit::tools

namespace {

void Usage() {
  std::fprintf(stderr,
               "usage: remit <command> [flags]\n"
               "  serve --data DIR --listen HOST:PORT [--public-url URL] [--demo]\n"
               "        [--kafka-brokers HOST:PORT,... [--kafka-topics PREFIX] [--kafka-group G]]\n"
               "        [--operator-token-file PATH] [--secrets-key PATH] [--read-only]\n"
               "  token create --data DIR --practice ID --role admin|staff|auditor [--label L]\n"
               "  kafka-dev [--brokers N] [--partitions N] [--topics PREFIX]\n"
               "                             librdkafka's mock cluster with remit's topics; prints\n"
               "                             its bootstrap address\n"
               "  bench log|replay|kafka [--events N]\n"
               "  audit verify --data DIR [--practice ID]\n"
               "  audit export --data DIR --practice ID --format jsonl|csv [--from T] [--to T]\n"
               "  audit balance --data DIR --practice ID --patient ID [--as-of T]\n"
               "  audit transactions --data DIR --practice ID [--as-of T]\n"
               "  replay --data DIR --out DIR2 [--to-time T | --to-offset N]    replay --compare DIR DIR2\n");
}

}  // namespace

int main(int argc, char** argv) {
  using namespace remit::tools;
  if (argc < 2) {
    Usage();
    return 2;
  }
  std::string cmd = argv[1];
  try {
    if (cmd == "serve") return Serve(ParseArgs(argc, argv, 2, {"demo", "read-only"}));
    if (cmd == "token" && argc >= 3 && std::string(argv[2]) == "create") {
      return TokenCreate(ParseArgs(argc, argv, 3, {}));
    }
    if (cmd == "bench") return Bench(ParseArgs(argc, argv, 2, {}));
    if (cmd == "audit" && argc >= 3 && std::string(argv[2]) == "verify") {
      return AuditVerify(ParseArgs(argc, argv, 3, {}));
    }
    if (cmd == "audit" && argc >= 3 && std::string(argv[2]) == "export") {
      return AuditExport(ParseArgs(argc, argv, 3, {}));
    }
    if (cmd == "audit" && argc >= 3 && std::string(argv[2]) == "balance") {
      return AuditView(ParseArgs(argc, argv, 3, {}), true);
    }
    if (cmd == "audit" && argc >= 3 && std::string(argv[2]) == "transactions") {
      return AuditView(ParseArgs(argc, argv, 3, {}), false);
    }
    if (cmd == "replay") return Replay(ParseArgs(argc, argv, 2, {}));
    if (cmd == "kafka-dev") return KafkaDev(ParseArgs(argc, argv, 2, {}));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "remit: %s\n", e.what());
    return 1;
  }
  Usage();
  return 2;
}
