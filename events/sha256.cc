#include "events/sha256.h"

#include <cpuid.h>
#include <immintrin.h>
#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "events/check.h"

namespace remit {
namespace {

constexpr uint32_t kInit[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                               0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
alignas(16) constexpr uint32_t kK[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

bool DetectShaExtensions() {
  // Read once, at the first hash; nothing in remit sets the environment.
  // NOLINTNEXTLINE(concurrency-mt-unsafe)
  if (std::getenv("REMIT_SHA256_NO_ACCEL") != nullptr) return false;
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  bool ssse3 = (c & bit_SSSE3) != 0, sse41 = (c & bit_SSE4_1) != 0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  return ssse3 && sse41 && (b & bit_SHA) != 0;
}

// A message padded as SHA-256 wants it: a || b || 0x80 || zeros || bit length, in whole
// 64-byte blocks. Records are a few hundred bytes; longer messages use the heap.
class Padded {
 public:
  Padded(std::string_view a, std::string_view b) {
    size_t len = a.size() + b.size();
    blocks_ = (len + 9 + 63) / 64;
    size_t bytes = blocks_ * 64;
    data_ = bytes <= sizeof(inline_) ? inline_ : static_cast<uint8_t*>(std::malloc(bytes));
    REMIT_CHECK(data_ != nullptr, "no memory for a message to hash");
    if (!a.empty()) std::memcpy(data_, a.data(), a.size());
    if (!b.empty()) std::memcpy(data_ + a.size(), b.data(), b.size());
    std::memset(data_ + len, 0, bytes - len);
    data_[len] = 0x80;
    uint64_t bits = static_cast<uint64_t>(len) * 8;
    for (int i = 0; i < 8; ++i) data_[bytes - 1 - i] = static_cast<uint8_t>(bits >> (8 * i));
  }
  ~Padded() {
    if (data_ != inline_) std::free(data_);
  }
  Padded(const Padded&) = delete;
  Padded& operator=(const Padded&) = delete;
  size_t blocks() const { return blocks_; }
  const uint8_t* block(size_t i) const { return data_ + 64 * i; }

 private:
  uint8_t inline_[1024];
  uint8_t* data_;
  size_t blocks_ = 0;
};

__attribute__((target("sha,sse4.1,ssse3"))) inline void Load(const uint32_t in[8], __m128i* abef,
                                                             __m128i* cdgh) {
  __m128i dcba = _mm_loadu_si128(reinterpret_cast<const __m128i*>(&in[0]));
  __m128i hgfe = _mm_loadu_si128(reinterpret_cast<const __m128i*>(&in[4]));
  __m128i cdab = _mm_shuffle_epi32(dcba, 0xB1);
  __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
  *abef = _mm_alignr_epi8(cdab, efgh, 8);
  *cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);
}

__attribute__((target("sha,sse4.1,ssse3"))) inline void Store(__m128i abef, __m128i cdgh,
                                                              Hash256* out) {
  __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
  __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
  __m128i dcba = _mm_blend_epi16(feba, dchg, 0xF0);
  __m128i hgfe = _mm_alignr_epi8(dchg, feba, 8);
  // The words are little endian in the registers; the digest is big endian.
  const __m128i swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out->data()), _mm_shuffle_epi8(dcba, swap));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out->data() + 16), _mm_shuffle_epi8(hgfe, swap));
}

// One 64-byte block, on the state kept as the SHA instructions want it (ABEF and CDGH).
__attribute__((target("sha,sse4.1,ssse3"))) inline void Compress(__m128i* abef, __m128i* cdgh,
                                                                 const uint8_t* block) {
  const __m128i swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  __m128i w[4];
  const __m128i abef_save = *abef, cdgh_save = *cdgh;
#pragma GCC unroll 16
  for (int g = 0; g < 16; ++g) {  // four rounds each
    __m128i& cur = w[g % 4];
    if (g < 4) {
      cur =
          _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 16 * g)), swap);
    }
    __m128i msg = _mm_add_epi32(cur, _mm_load_si128(reinterpret_cast<const __m128i*>(&kK[4 * g])));
    *cdgh = _mm_sha256rnds2_epu32(*cdgh, *abef, msg);
    if (g >= 3 && g <= 14) {  // the message schedule, four words ahead
      __m128i& next = w[(g + 1) % 4];
      next = _mm_add_epi32(next, _mm_alignr_epi8(cur, w[(g + 3) % 4], 4));
      next = _mm_sha256msg2_epu32(next, cur);
    }
    msg = _mm_shuffle_epi32(msg, 0x0E);
    *abef = _mm_sha256rnds2_epu32(*abef, *cdgh, msg);
    if (g >= 1 && g <= 12) {
      __m128i& prev = w[(g + 3) % 4];
      prev = _mm_sha256msg1_epu32(prev, cur);
    }
  }
  *abef = _mm_add_epi32(*abef, abef_save);
  *cdgh = _mm_add_epi32(*cdgh, cdgh_save);
}

__attribute__((target("sha,sse4.1,ssse3"))) void HashOne(const Padded& m, Hash256* out) {
  __m128i abef, cdgh;
  Load(kInit, &abef, &cdgh);
  for (size_t i = 0; i < m.blocks(); ++i) Compress(&abef, &cdgh, m.block(i));
  Store(abef, cdgh, out);
}

}  // namespace

bool Sha256Accelerated() {
  static const bool kAccelerated = DetectShaExtensions();
  return kAccelerated;
}

Hash256 Sha256OpenSsl(std::string_view a, std::string_view b) {
  // The digest is fetched once and each thread keeps its context: OpenSSL 3's implicit fetch
  // per call costs more than hashing a whole event.
  static EVP_MD* const kSha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  struct Ctx {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Ctx() { EVP_MD_CTX_free(ctx); }
  };
  thread_local Ctx tl;
  Hash256 out{};
  unsigned int len = 0;
  EVP_MD_CTX* ctx = tl.ctx;
  bool ok = kSha256 != nullptr && ctx != nullptr && EVP_DigestInit_ex(ctx, kSha256, nullptr) == 1 &&
            EVP_DigestUpdate(ctx, a.data(), a.size()) == 1 &&
            EVP_DigestUpdate(ctx, b.data(), b.size()) == 1 &&
            EVP_DigestFinal_ex(ctx, out.data(), &len) == 1;
  // A hash that cannot be computed is a broken invariant, not an operating error.
  REMIT_CHECK(ok && len == out.size(), "OpenSSL's SHA-256 failed");
  return out;
}

Hash256 Sha256(std::string_view a, std::string_view b) {
  if (!Sha256Accelerated()) return Sha256OpenSsl(a, b);
  Hash256 out;
  HashOne(Padded(a, b), &out);
  return out;
}

}  // namespace remit
