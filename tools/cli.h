// The `remit` command line: argument parsing shared by the subcommands.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

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


int Serve(const Args& args);
int KafkaDev(const Args& args);
int TokenCreate(const Args& args);
int Bench(const Args& args);
int AuditVerify(const Args& args);
int AuditExport(const Args& args);
int Replay(const Args& args);
int AuditView(const Args& args, bool balance);

}  // namespace remit::tools
