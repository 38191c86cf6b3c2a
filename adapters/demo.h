// The demo practice that `remit serve --demo` loads once into an empty data directory.
#pragma once

#include <string>

#include "adapters/app.h"

namespace remit {

struct DemoInfo {
  std::string practice_id;
  std::string admin_token;
  std::string invite_url;
  std::string guarantor_id;
};

// Loads the demo practice (idempotent: commands use fixed keys, so a second run changes
// nothing, but tokens are only created on the first).
Result<DemoInfo> LoadDemo(App* app);

}  // namespace remit
