// The `remit` command line: argument parsing shared by the subcommands.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "adapters/http/http_client.h"
#include "events/status.h"

namespace remit::tools {

// "--name value" pairs and bare "--flag"s after the subcommand words, checked against the
// command's declared flags by main.cc before the command runs.
struct Args {
  std::vector<std::string> words;
  std::map<std::string, std::string> flags;
  std::optional<std::string> Get(const std::string& name) const {
    auto it = flags.find(name);
    if (it == flags.end()) return std::nullopt;
    return it->second;
  }
  bool Has(const std::string& name) const { return flags.contains(name); }
};

// When a server runs on `data` (its server.json names a live process): the answer of `method
// path` with the operator token (from `token_file`, default DATA/operator-token). nullopt when
// no server runs there.
std::optional<Result<HttpResult>> CallRunningServer(const std::string& data,
                                                    const std::string& token_file,
                                                    const std::string& method,
                                                    const std::string& path,
                                                    const std::string& body);

int Serve(const Args& args);
int Backup(const Args& args);
int Restore(const Args& args);
int KafkaDev(const Args& args);
int TokenCreate(const Args& args);
int Bench(const Args& args);
int BenchHttp(const Args& args);  // tools/bench_http.cc
int AuditVerify(const Args& args);
int AuditExport(const Args& args);
int Replay(const Args& args);
int AuditView(const Args& args, bool balance);

}  // namespace remit::tools
