#include "adapters/node.h"

namespace remit {

Result<std::unique_ptr<Node>> Node::Open(const AppOptions& options) {
  auto node = std::make_unique<Node>();
  auto app = App::Open(options);
  if (!app.ok()) return app.status();
  node->app = std::move(app.value());
  const std::string& dir = node->app->options().data_dir;
  auto open_store = [&](const std::string& name) {
    return options.open_store ? options.open_store(name) : OpenRocksKv(dir + "/" + name);
  };
  auto secrets_kv = open_store("secrets");
  if (!secrets_kv.ok()) return secrets_kv.status();
  auto secrets = SecretsStore::Open(
      std::move(secrets_kv.value()),
      options.secrets_key_file.empty() ? dir + "/secrets.key" : options.secrets_key_file);
  if (!secrets.ok()) return secrets.status();
  node->secrets = std::move(secrets.value());
  auto sandbox_kv = open_store("sandbox-gateway");
  if (!sandbox_kv.ok()) return sandbox_kv.status();
  node->sandbox = std::make_unique<SandboxGateway>(std::move(sandbox_kv.value()));
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
