// A minimal blocking HTTP/1.1 client, for `remit token create` against a running server and
// for tests. One connection per call. Thread safety: stateless functions.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

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

// "http://host:port[/...]" (host a name, an IPv4 address or a bracketed IPv6 one) into its
// host, brackets removed, and port. False when there is no port in 1..65535.
bool SplitHttpUrl(const std::string& url, std::string* host, int* port);
// The hosts of `urls` that are IP addresses (names are not resolved), each once.
std::vector<std::string> AddressesInUrls(const std::vector<std::string>& urls);

}  // namespace remit
