// Node: one remit process's components, opened together from a data directory: the App
// (log, views, engine), the secrets store, the sandbox processor and the portal.
// Thread safety: the members are thread-safe; Open and destruction are single-threaded.
#pragma once

#include <memory>

#include "adapters/app.h"
#include "adapters/portal.h"
#include "adapters/sandbox_gateway.h"
#include "adapters/secrets.h"

namespace remit {

struct Node {
  std::unique_ptr<App> app;
  std::unique_ptr<SecretsStore> secrets;
  std::unique_ptr<SandboxGateway> sandbox;
  std::unique_ptr<Portal> portal;

  // Opens everything under options.data_dir and finishes payments a crash left open.
  static Result<std::unique_ptr<Node>> Open(const AppOptions& options);
  ~Node();
};

}  // namespace remit
