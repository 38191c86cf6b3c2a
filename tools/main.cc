// remit: the payment ledger behind a patient portal. Entry point of every subcommand.
//
// Every command declares its flags (kCommands below). A flag that is not declared, a flag
// without its value, a bare flag given a value, a flag given twice, a number out of range or a
// stray word is refused with a clear message and exit status 2 before anything runs: a
// mistyped `--kafka-broker` must never start a server on the embedded log.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

#include "tools/cli.h"

namespace remit::tools {
namespace {

struct Flag {
  const char* name;
  const char* value;  // what the value is ("DIR"), or nullptr for a flag that takes none
  const char* help;
  int64_t min = 0, max = 0;  // a whole number in [min, max] when max > min
};

struct Command {
  std::vector<std::string> words;  // "audit", "verify"
  const char* args;                // positional words after the flags, for the usage line
  size_t positional_max;
  const char* summary;
  std::vector<Flag> flags;
  int (*run)(const Args&);
};

int AuditBalance(const Args& a) { return AuditView(a, true); }
int AuditTransactions(const Args& a) { return AuditView(a, false); }

// The flags of `remit bench`, one set for every workload.
std::vector<Flag> BenchFlags() {
  return {{"events", "N", "events to write or replay", 1, 1000000000},
          {"window", "N", "appends in flight per appender (bench log)", 1, 1 << 20},
          {"keep", "DIR", "keep (or reuse) the generated log in DIR (bench replay)"},
          {"seconds", "N", "seconds per cell (bench http, default 3)", 1, 3600}};
}

const std::vector<Command>& Commands() {
  static const std::vector<Command> kCommands = {
      {{"serve"},
       "",
       0,
       "runs the server (API, portal, staff pages, sandbox processor)",
       {{"data", "DIR", "the data directory (created if missing)"},
        {"listen", "HOST:PORT", "where to listen (default 127.0.0.1:8080)"},
        {"public-url", "URL", "what portal links and QR codes point at (default http://HOST:PORT)"},
        {"advertise-url", "URL",
         "where other remit processes reach this one (default http://HOST:PORT)"},
        {"demo", nullptr, "load the demo practice once into an empty data directory"},
        {"operator-token-file", "PATH", "the operator token file (default DIR/operator-token)"},
        {"secrets-key", "PATH", "the secrets key file (default DIR/secrets.key)"},
        {"trusted-proxy", "CIDR[,CIDR...]",
         "reverse proxies: not capped per address; X-Forwarded-For names the client"},
        {"tls-cert", "FILE",
         "serve HTTPS with this PEM certificate chain (with --tls-key; TLS 1.2 or newer)"},
        {"tls-key", "FILE", "the certificate's PEM private key"},
        {"peer", "CIDR[,CIDR...]",
         "other remit processes (Kafka mode) not capped per address; members announcing an address "
         "are found by themselves"},
        {"read-only", nullptr, "serve what can be read; refuse every write with 503 read_only"},
        {"storage-check-s", "SECONDS", "seconds between background storage checks (default 3600)",
         1, 604800},
        {"kafka-brokers", "HOST:PORT,...", "run on a Kafka cluster instead of the embedded log"},
        {"kafka-topics", "PREFIX", "Kafka topic prefix (default remit)"},
        {"kafka-group", "GROUP", "Kafka consumer group (default remit)"}},
       Serve},
      {{"token", "create"},
       "",
       0,
       "prints a new staff token as the last line",
       {{"data", "DIR", "the data directory"},
        {"practice", "ID", "the practice"},
        {"role", "ROLE", "admin, staff or auditor"},
        {"label", "TEXT", "a label for the token (default cli)"},
        {"operator-token-file", "PATH", "the operator token file (default DIR/operator-token)"}},
       TokenCreate},
      {{"kafka-dev"},
       "",
       0,
       "runs librdkafka's mock cluster with remit's topics; prints its bootstrap address",
       {{"brokers", "N", "brokers (default 3)", 1, 9},
        {"partitions", "N", "partitions of the events topic (default 12)", 1, 1024},
        {"topics", "PREFIX", "topic prefix (default remit)"}},
       KafkaDev},
      {{"bench"},
       "log|replay|kafka|slow-clients|http",
       1,
       "the benchmarks of docs/benchmarks.md",
       BenchFlags(),
       Bench},
      {{"backup"},
       "",
       0,
       "copies a data directory, also while its server runs, and checks the copy",
       {{"data", "DIR", "the data directory"},
        {"to", "DIR2", "where the backup goes (must not exist, or be empty)"},
        {"operator-token-file", "PATH", "the operator token file (default DIR/operator-token)"},
        {"secrets-key", "PATH", "the secrets key file (default DIR/secrets.key)"}},
       Backup},
      {{"restore"},
       "",
       0,
       "copies a backup into a new data directory and checks it",
       {{"from", "DIR2", "the backup"},
        {"data", "DIR", "the new data directory (must not exist, or be empty)"}},
       Restore},
      {{"audit", "verify"},
       "",
       0,
       "checks every chain and every store; exit 0 when all hold",
       {{"data", "DIR", "the data directory (also beside a running server)"},
        {"practice", "ID", "count and report this practice's chain"},
        {"secrets-key", "PATH", "the secrets key file (default DIR/secrets.key)"}},
       AuditVerify},
      {{"audit", "export"},
       "",
       0,
       "every event of a practice, decoded, to standard output",
       {{"data", "DIR", "the data directory"},
        {"practice", "ID", "the practice"},
        {"format", "jsonl|csv", "output format (default jsonl)"},
        {"from", "TIME", "events at or after this time"},
        {"to", "TIME", "events before this time"}},
       AuditExport},
      {{"audit", "balance"},
       "",
       0,
       "a family's balance view as it stood at a moment",
       {{"data", "DIR", "the data directory"},
        {"practice", "ID", "the practice"},
        {"patient", "ID", "the patient"},
        {"as-of", "TIME", "the moment (default now)"}},
       AuditBalance},
      {{"audit", "transactions"},
       "",
       0,
       "a practice's transactions as they stood at a moment",
       {{"data", "DIR", "the data directory"},
        {"practice", "ID", "the practice"},
        {"as-of", "TIME", "the moment (default now)"}},
       AuditTransactions},
      {{"replay"},
       "[DIR2]",
       1,
       "rebuilds the projections into a new directory, or compares two",
       {{"data", "DIR", "the data directory to replay"},
        {"out", "DIR2", "where the rebuilt views go"},
        {"to-time", "TIME", "stop before the first event after this time"},
        {"to-offset", "N", "stop before this log offset", 0, INT64_MAX},
        {"compare", "DIR", "compare DIR's views with DIR2's; exit 0 only when equal"}},
       Replay},
  };
  return kCommands;
}

std::string Name(const Command& c) {
  std::string n;
  for (const auto& w : c.words) n += (n.empty() ? "" : " ") + w;
  return n;
}

void PrintUsage(FILE* out, const Command& c) {
  std::fprintf(out, "usage: remit %s", Name(c).c_str());
  if (*c.args) std::fprintf(out, " %s", c.args);
  std::fprintf(out, " [flags]\n  %s\n", c.summary);
  for (const auto& f : c.flags) {
    std::string left = std::string("--") + f.name + (f.value ? std::string(" ") + f.value : "");
    std::fprintf(out, "  %-34s %s\n", left.c_str(), f.help);
  }
}

void PrintHelp(FILE* out) {
  std::fprintf(out, "usage: remit <command> [flags]   (remit <command> --help for its flags)\n");
  for (const auto& c : Commands()) std::fprintf(out, "  %-20s %s\n", Name(c).c_str(), c.summary);
}

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Parses the words after the command's own against its flags; throws UsageError.
Args ParseFor(const Command& c, int argc, char** argv, int from) {
  Args a;
  for (int i = from; i < argc; ++i) {
    std::string s = argv[i];
    if (!s.starts_with("--")) {
      if (a.words.size() >= c.positional_max) throw UsageError("unexpected argument '" + s + "'");
      a.words.push_back(s);
      continue;
    }
    std::string name = s.substr(2), value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    auto f =
        std::find_if(c.flags.begin(), c.flags.end(), [&](const Flag& x) { return name == x.name; });
    if (f == c.flags.end()) throw UsageError("unknown flag --" + name);
    if (a.flags.contains(name)) throw UsageError("--" + name + " is given twice");
    if (f->value == nullptr) {
      if (has_value) throw UsageError("--" + name + " takes no value");
    } else if (!has_value) {
      if (i + 1 >= argc || std::string(argv[i + 1]).starts_with("--")) {
        throw UsageError("--" + name + " needs a value (" + f->value + ")");
      }
      value = argv[++i];
    }
    if (f->max > f->min) {
      errno = 0;
      char* end = nullptr;
      long long v = std::strtoll(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || errno != 0 || v < f->min || v > f->max) {
        throw UsageError("--" + name + " takes a whole number from " + std::to_string(f->min) +
                         " to " + std::to_string(f->max) + ", not '" + value + "'");
      }
    }
    a.flags[name] = value;
  }
  return a;
}

}  // namespace

int Main(int argc, char** argv) {
  if (argc < 2) {
    PrintHelp(stderr);
    return 2;
  }
  std::string first = argv[1];
  if (first == "help" || first == "--help" || first == "-h") {
    if (argc == 2) {
      PrintHelp(stdout);
      return 0;
    }
  }
  // The longest command whose words begin the arguments (after "help", when asked for help).
  int at = (first == "help") ? 2 : 1;
  const Command* cmd = nullptr;
  for (const auto& c : Commands()) {
    if (static_cast<int>(c.words.size()) > argc - at) continue;
    bool match = true;
    for (size_t k = 0; k < c.words.size(); ++k)
      match = match && c.words[k] == argv[at + static_cast<int>(k)];
    if (match && (cmd == nullptr || c.words.size() > cmd->words.size())) cmd = &c;
  }
  if (cmd == nullptr) {
    std::fprintf(stderr, "remit: unknown command '%s'\n", argv[at]);
    PrintHelp(stderr);
    return 2;
  }
  int from = at + static_cast<int>(cmd->words.size());
  if (first == "help") {
    PrintUsage(stdout, *cmd);
    return 0;
  }
  for (int i = from; i < argc; ++i) {
    std::string s = argv[i];
    if (s == "--help" || s == "-h") {
      PrintUsage(stdout, *cmd);
      return 0;
    }
  }
  Args args;
  try {
    args = ParseFor(*cmd, argc, argv, from);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "remit %s: %s\n", Name(*cmd).c_str(), e.what());
    PrintUsage(stderr, *cmd);
    return 2;
  }
  return cmd->run(args);
}

}  // namespace remit::tools

int main(int argc, char** argv) {
  // Everything remit creates (data directories, backups, token files) is its owner's alone.
  ::umask(077);
  try {
    return remit::tools::Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "remit: %s\n", e.what());
    return 1;
  }
}
