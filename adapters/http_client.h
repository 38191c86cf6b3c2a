// A minimal blocking HTTP/1.1 client, for `remit token create` against a running server and
// for tests. One connection per call. Thread safety: stateless functions.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "events/status.h"

namespace remit {

struct HttpResult {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
};

Result<HttpResult> HttpCall(const std::string& host, int port, const std::string& method,
                            const std::string& target, const std::string& body = {},
                            const std::map<std::string, std::string>& headers = {},
                            std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace remit
