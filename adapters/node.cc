#include "adapters/node.h"

namespace remit {

Result<std::unique_ptr<Node>> Node::Open(const AppOptions& options) {
  auto node = std::make_unique<Node>();
  auto app = App::Open(options);
  if (!app.ok()) return app.status();
  node->app = std::move(app.value());
  const std::string& dir = node->app->options().data_dir;
  auto secrets = SecretsStore::Open(dir + "/secrets", dir + "/secrets.key");
  if (!secrets.ok()) return secrets.status();
  node->secrets = std::move(secrets.value());
  auto sandbox = SandboxGateway::Open(dir + "/sandbox-gateway");
  if (!sandbox.ok()) return sandbox.status();
  node->sandbox = std::move(sandbox.value());
  node->portal = std::make_unique<Portal>(node->app.get(), node->secrets.get(), node->sandbox.get());
  Status s = node->portal->ResumePayments();
  if (!s.ok()) return s;
  return node;
}

Node::~Node() {
  portal.reset();
  sandbox.reset();
  secrets.reset();
  app.reset();
}

}  // namespace remit
