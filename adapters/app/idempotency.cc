#include "adapters/app/idempotency.h"

#include <array>
#include <nlohmann/json.hpp>
#include <string_view>

namespace remit {
namespace {

using nlohmann::json;

// Fields of an answer that hand out a secret (spec/api.md, Idempotency): a replay leaves them
// out and says `"secret_withheld": true`. The invite's url carries its code.
constexpr std::array<std::string_view, 10> kSecretFields = {
    "token",          "invite_code",     "url",           "totp_secret_base32", "otpauth_uri",
    "identity_token", "challenge_token", "session_token", "pay_token",          "secret"};

constexpr const char* kScrubbedKey = "meta/secrets-scrubbed";

}  // namespace

std::string WithoutSecrets(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (!j.is_object()) return body;
  bool withheld = false;
  for (auto field : kSecretFields) withheld = j.erase(std::string(field)) > 0 || withheld;
  if (!withheld) return body;
  j["secret_withheld"] = true;
  return j.dump();
}

Result<size_t> ScrubKeptSecrets(KvStore* idempotency) {
  auto done = idempotency->Get(kScrubbedKey);
  if (!done.ok()) return done.status();
  if (done->has_value()) return size_t{0};
  size_t scrubbed = 0;
  Status s = idempotency->Rewrite(
      [&](const std::string& key, const std::string& value) -> std::optional<std::string> {
        json record = json::parse(value, nullptr, false);
        if (!record.is_object() || !record.contains("body") || !record["body"].is_string()) {
          return std::nullopt;
        }
        std::string body = record["body"];
        std::string kept = WithoutSecrets(body);
        if (kept == body) return std::nullopt;
        record["body"] = kept;
        ++scrubbed;
        return record.dump();
      });
  if (s.IsNotSupported()) return size_t{0};
  if (!s.ok()) return s;
  s = idempotency->Put(kScrubbedKey, "1");
  if (!s.ok()) return s;
  return scrubbed;
}

}  // namespace remit
