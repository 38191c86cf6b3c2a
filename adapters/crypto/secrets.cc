#include "adapters/crypto/secrets.h"

#include <liboath/oath.h>
#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <string_view>
#include <unordered_set>

#include "adapters/crypto/common_passwords.h"
#include "adapters/storage/files.h"
#include "events/types.h"

namespace remit {
namespace {

// The common-password blocklist (common_passwords.h), as a set over the compiled-in bytes:
// built once, on the first password check.
const std::unordered_set<std::string_view>& Blocklist() {
  static const std::unordered_set<std::string_view> kList = [] {
    std::unordered_set<std::string_view> list;
    list.reserve(CommonPasswordCount());
    std::string_view all = CommonPasswords();
    for (size_t start = 0; start < all.size();) {
      size_t end = all.find('\n', start);
      if (end == std::string_view::npos) end = all.size();
      if (end > start) list.insert(all.substr(start, end - start));
      start = end + 1;
    }
    return list;
  }();
  return kList;
}

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

Result<std::unique_ptr<SecretsStore>> SecretsStore::Open(std::unique_ptr<KvStore> kv,
                                                         const std::string& key_file,
                                                         bool read_only) {
  std::string key;
  auto existing = ReadFile(key_file);
  if (!existing.ok() && read_only) return Status::NotFound("no secrets key at " + key_file);
  if (existing.ok()) {
    key = existing.value();
    if (key.size() != crypto_secretbox_KEYBYTES) {
      return Status::Corruption(key_file + " is not a " +
                                std::to_string(crypto_secretbox_KEYBYTES) + "-byte key");
    }
  } else {
    key.resize(crypto_secretbox_KEYBYTES);
    crypto_secretbox_keygen(reinterpret_cast<unsigned char*>(key.data()));
    Status s = WriteFileMode(key_file, key, 0600);
    if (!s.ok()) return s;
  }
  std::unique_ptr<SecretsStore> store(new SecretsStore(std::move(kv), std::move(key)));
  // A known value sealed under the key: a damaged or foreign key file is found at the start,
  // not at the next patient's sign-in.
  static const std::string kCheckName = "meta/key-check", kCheckValue = "remit secrets key v1";
  auto check = store->Get(kCheckName);
  if (check.ok() && check.value() != kCheckValue) check = Status::Corruption("wrong value");
  if (!check.ok() && check.status().IsNotFound()) {
    if (read_only) return store;
    Status s = store->Put(kCheckName, kCheckValue);
    if (!s.ok()) return s;
  } else if (!check.ok() && check.status().IsCorruption()) {
    return Status::Corruption(
        key_file + " does not open the secrets store (" + check.status().message() +
        "): the key file is damaged or belongs to another data directory. "
        "Put back the secrets.key of this directory's backup (docs/operations.md)");
  } else if (!check.ok()) {
    return check.status();
  }
  return store;
}

Status SecretsStore::VerifyStorage() const { return kv_->VerifyStorage(); }

SecretsStore::SecretsStore(std::unique_ptr<KvStore> kv, std::string key)
    : kv_(std::move(kv)), key_(std::move(key)) {}

SecretsStore::~SecretsStore() { sodium_memzero(key_.data(), key_.size()); }

std::string SecretsStore::Fingerprint(std::string_view data) const {
  // A subkey of its own: the fingerprints never reveal anything of the sealing key.
  unsigned char subkey[crypto_generichash_KEYBYTES];
  crypto_kdf_derive_from_key(subkey, sizeof(subkey), 1, "remitfpr",
                             reinterpret_cast<const unsigned char*>(key_.data()));
  unsigned char out[32];
  crypto_generichash(out, sizeof(out), reinterpret_cast<const unsigned char*>(data.data()),
                     data.size(), subkey, sizeof(subkey));
  sodium_memzero(subkey, sizeof(subkey));
  return Hex(out, sizeof(out));
}

Status SecretsStore::Put(const std::string& name, const std::string& secret) {
  std::string box(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + secret.size(), '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(box.data());
  randombytes_buf(nonce, crypto_secretbox_NONCEBYTES);
  crypto_secretbox_easy(nonce + crypto_secretbox_NONCEBYTES,
                        reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), nonce,
                        reinterpret_cast<const unsigned char*>(key_.data()));
  return kv_->Put(name, box);
}

Result<std::string> SecretsStore::Get(const std::string& name) const {
  auto stored = kv_->Get(name);
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) return Status::NotFound("no secret " + name);
  const std::string& box = **stored;
  if (box.size() < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
    return Status::Corruption("secret " + name + " is truncated");
  }
  std::string out(box.size() - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES, '\0');
  const auto* nonce = reinterpret_cast<const unsigned char*>(box.data());
  if (crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(out.data()),
                                 nonce + crypto_secretbox_NONCEBYTES,
                                 box.size() - crypto_secretbox_NONCEBYTES, nonce,
                                 reinterpret_cast<const unsigned char*>(key_.data())) != 0) {
    return Status::Corruption("secret " + name + " does not open under the secrets key");
  }
  return out;
}

Status InitCrypto() {
  if (sodium_init() < 0) return Status::IOError("libsodium failed to initialise");
  return Status::OK();
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::optional<std::string> PasswordWeakness(const std::string& password,
                                            const std::string& username) {
  // Characters, not bytes: "pässwörd" is 8 (JSON strings arrive as UTF-8; a continuation byte
  // starts no character).
  size_t chars = 0;
  for (unsigned char c : password) chars += (c & 0xC0) != 0x80 ? 1 : 0;
  if (chars < 8) return "the password must have at least 8 characters";
  if (chars > 64) return "the password must have at most 64 characters";
  if (Lower(password) == Lower(username)) return "the password must not be the username";
  if (Blocklist().contains(Lower(password))) return "that password is too common";
  return std::nullopt;
}

Result<std::string> HashPassword(const std::string& password) {
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
    return Status::IOError("argon2id ran out of memory");
  }
  return std::string(out);
}

bool VerifyPassword(const std::string& hash, const std::string& password) {
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

std::string NewTotpSecret() {
  std::string raw(20, '\0');
  randombytes_buf(raw.data(), raw.size());
  return raw;
}

std::string Base32(const std::string& raw) {
  static std::once_flag once;
  std::call_once(once, [] { oath_init(); });
  char* out = nullptr;
  size_t len = 0;
  if (oath_base32_encode(raw.data(), raw.size(), &out, &len) != OATH_OK) return {};
  std::string s(out, len);
  free(out);
  s.erase(std::remove(s.begin(), s.end(), '='), s.end());
  return s;
}

std::optional<int64_t> MatchTotp(const std::string& secret, const std::string& code,
                                 int64_t now_s) {
  if (code.size() != 6 || !std::all_of(code.begin(), code.end(), ::isdigit)) return std::nullopt;
  int pos = 0;
  uint64_t counter = 0;
  // Codes are compared in constant time (liboath's own comparison is strcmp).
  auto compare = [](void* handle, const char* candidate) -> int {
    const auto* want = static_cast<const std::string*>(handle);
    if (std::strlen(candidate) != want->size()) return 1;
    return sodium_memcmp(candidate, want->data(), want->size()) == 0 ? 0 : 1;
  };
  std::string want = code;
  int r = oath_totp_validate3_callback(secret.data(), secret.size(), static_cast<time_t>(now_s), 30,
                                       0, 6, 1, &pos, &counter, compare, &want);
  if (r < 0) return std::nullopt;
  return static_cast<int64_t>(counter);
}

std::string TotpCode(const std::string& secret, int64_t now_s) {
  char out[7] = {0};
  if (oath_totp_generate(secret.data(), secret.size(), static_cast<time_t>(now_s), 30, 0, 6, out) !=
      OATH_OK) {
    return {};
  }
  return out;
}

}  // namespace remit
