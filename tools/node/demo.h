// The demo practice that `remit serve --demo` loads once into an empty data directory.
#pragma once

#include <string>

#include "tools/node/node.h"

namespace remit {

struct DemoInfo {
  std::string practice_id;
  std::string admin_token;
  std::string guarantor_id;
  // Jane Doe is enrolled: these sign her in (the code comes from an authenticator app set up
  // with the secret).
  std::string username, password, phone, totp_secret_base32, otpauth_uri;
  std::string invite_url;  // an enrolment link for Sam, a dependent
};

// Loads the demo practice into an empty node (commands use fixed keys, so a second run
// changes nothing, but tokens, enrolment and invite are made on the first only).
Result<DemoInfo> LoadDemo(Node* node);

}  // namespace remit
