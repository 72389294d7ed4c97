#define CRYPTOPP_ENABLE_NAMESPACE_WEAK 1
#include "reference/crypto/hashes.h"

#include <cryptopp/md5.h>
#include <cryptopp/misc.h>
#include <cryptopp/ripemd.h>
#include <cryptopp/sha.h>

#include <algorithm>
#include <cstring>
#include <future>
#include <system_error>
#include <vector>

namespace qcow2ref {
namespace {

// HMAC-H with the key's two pad blocks hashed once (RFC 2104):
// HMAC(K, m) = H((K ^ opad) || H((K ^ ipad) || m)). `keyed_inner_` and
// `keyed_outer_` have absorbed K ^ ipad and K ^ opad; each MAC starts from
// copies of them.
template <class H>
class KeyedHmac {
 public:
  static constexpr size_t kDigestSize = H::DIGESTSIZE;

  KeyedHmac(const uint8_t* key, size_t key_len) {
    // A key longer than the block is replaced by its hash; shorter keys are
    // zero-padded to one block.
    const size_t block = keyed_inner_.BlockSize();
    SecretBytes k(block);
    std::memset(k.data(), 0, block);
    if (key_len > block) {
      H().CalculateDigest(k.data(), key, key_len);
    } else if (key_len > 0) {
      std::memcpy(k.data(), key, key_len);
    }
    SecretBytes pad(block);
    for (size_t i = 0; i < block; ++i) pad[i] = k[i] ^ 0x36;
    keyed_inner_.Update(pad.data(), block);
    for (size_t i = 0; i < block; ++i) pad[i] = k[i] ^ 0x5c;
    keyed_outer_.Update(pad.data(), block);
  }

  // out = HMAC(K, a || b); `out` (kDigestSize bytes) may alias a or b.
  void Mac(const uint8_t* a, size_t a_len, const uint8_t* b, size_t b_len,
           uint8_t* out) {
    // Assigning to long-lived working objects, rather than constructing
    // copies, reuses their buffers: no allocation and no wipe per MAC.
    inner_ = keyed_inner_;
    inner_.Update(a, a_len);
    inner_.Update(b, b_len);
    inner_.Final(digest_);
    outer_ = keyed_outer_;
    outer_.Update(digest_, kDigestSize);
    outer_.Final(out);
  }

 private:
  H keyed_inner_;
  H keyed_outer_;
  H inner_;
  H outer_;
  CryptoPP::FixedSizeSecBlock<uint8_t, kDigestSize> digest_;
};

// T_i of PBKDF2 (RFC 8018 section 5.2): U_1 = PRF(P, S || INT(i)),
// U_j = PRF(P, U_{j-1}), T_i = U_1 ^ ... ^ U_c, written to out (kD bytes).
template <class H>
void Pbkdf2Block(const uint8_t* pw, size_t pw_len, const uint8_t* salt,
                 size_t salt_len, uint32_t iterations, uint32_t i,
                 uint8_t* out) {
  constexpr size_t kD = KeyedHmac<H>::kDigestSize;
  KeyedHmac<H> hmac(pw, pw_len);
  SecretBytes u(kD);  // U_j
  // T_i accumulates in this thread's own buffer: the blocks' outputs share a
  // cache line, and xoring into them every iteration from two threads made
  // both crawl (false sharing).
  SecretBytes t(kD);
  const uint8_t be_i[4] = {
      static_cast<uint8_t>(i >> 24), static_cast<uint8_t>(i >> 16),
      static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)};
  hmac.Mac(salt, salt_len, be_i, sizeof(be_i), u.data());
  std::memcpy(t.data(), u.data(), kD);
  for (uint32_t j = 1; j < iterations; ++j) {
    hmac.Mac(u.data(), kD, nullptr, 0, u.data());
    CryptoPP::xorbuf(t.data(), u.data(), kD);
  }
  std::memcpy(out, t.data(), kD);
}

// Below this many iterations a thread costs more than it saves.
constexpr uint32_t kParallelIterations = 1 << 14;

// PBKDF2 with the PRF HMAC-H; the same bytes as Crypto++'s
// PKCS5_PBKDF2_HMAC<H>, including iterations == 0 counting as 1. Crypto++'s
// version re-hashes HMAC's two pad blocks at every iteration, which doubles
// the cost of a LUKS unlock (docs/performance.md). The output blocks T_i are
// independent, so a key longer than one digest (a 64-byte XTS key from
// SHA-256) derives its blocks on one thread each.
template <class H>
SecretBytes RunPbkdf2(const uint8_t* pw, size_t pw_len, const uint8_t* salt,
                      size_t salt_len, uint32_t iterations, size_t out_len) {
  constexpr size_t kD = KeyedHmac<H>::kDigestSize;
  const uint32_t blocks = static_cast<uint32_t>((out_len + kD - 1) / kD);
  SecretBytes t(uint64_t{blocks} * kD);
  // Blocks 2.. on their own threads when worth it; block 1, and any block
  // whose thread cannot be started, on this one.
  const bool parallel = iterations >= kParallelIterations;
  std::vector<std::future<void>> others;
  std::vector<uint32_t> here;
  for (uint32_t i = 1; i <= blocks; ++i) {
    if (parallel && i > 1) {
      try {
        others.push_back(std::async(std::launch::async, Pbkdf2Block<H>, pw,
                                    pw_len, salt, salt_len, iterations, i,
                                    t.data() + (i - 1) * kD));
        continue;
      } catch (const std::system_error&) {
        // No thread (resource limits): derive the block here instead.
      }
    }
    here.push_back(i);
  }
  for (uint32_t i : here) {
    Pbkdf2Block<H>(pw, pw_len, salt, salt_len, iterations, i,
                   t.data() + (i - 1) * kD);
  }
  for (auto& f : others) f.get();  // Rethrows a block's exception.
  SecretBytes out(out_len);
  if (out_len > 0) std::memcpy(out.data(), t.data(), out_len);
  return out;
}

}  // namespace

std::unique_ptr<CryptoPP::HashTransformation> HashByName(
    const std::string& name) {
  if (name == "md5") return std::make_unique<CryptoPP::Weak::MD5>();
  if (name == "sha1") return std::make_unique<CryptoPP::SHA1>();
  if (name == "sha224") return std::make_unique<CryptoPP::SHA224>();
  if (name == "sha256") return std::make_unique<CryptoPP::SHA256>();
  if (name == "sha384") return std::make_unique<CryptoPP::SHA384>();
  if (name == "sha512") return std::make_unique<CryptoPP::SHA512>();
  if (name == "ripemd160") return std::make_unique<CryptoPP::RIPEMD160>();
  return nullptr;
}

bool IsKnownHash(const std::string& name) {
  return HashByName(name) != nullptr;
}

Result<SecretBytes> Pbkdf2(const std::string& hash, const uint8_t* pw,
                           size_t pw_len, const uint8_t* salt, size_t salt_len,
                           uint32_t iterations, size_t out_len) {
  // SPEC(L1.PBKDF2.algorithm)
  try {
    if (hash == "md5") {
      return RunPbkdf2<CryptoPP::Weak::MD5>(pw, pw_len, salt, salt_len,
                                            iterations, out_len);
    }
    if (hash == "sha1") {
      return RunPbkdf2<CryptoPP::SHA1>(pw, pw_len, salt, salt_len, iterations,
                                       out_len);
    }
    if (hash == "sha224") {
      return RunPbkdf2<CryptoPP::SHA224>(pw, pw_len, salt, salt_len, iterations,
                                         out_len);
    }
    if (hash == "sha256") {
      return RunPbkdf2<CryptoPP::SHA256>(pw, pw_len, salt, salt_len, iterations,
                                         out_len);
    }
    if (hash == "sha384") {
      return RunPbkdf2<CryptoPP::SHA384>(pw, pw_len, salt, salt_len, iterations,
                                         out_len);
    }
    if (hash == "sha512") {
      return RunPbkdf2<CryptoPP::SHA512>(pw, pw_len, salt, salt_len, iterations,
                                         out_len);
    }
    if (hash == "ripemd160") {
      return RunPbkdf2<CryptoPP::RIPEMD160>(pw, pw_len, salt, salt_len,
                                            iterations, out_len);
    }
  } catch (const CryptoPP::Exception& e) {
    return Rejected("L1.PBKDF2.algorithm", std::nullopt,
                    std::string("PBKDF2 failed: ") + e.what());
  }
  return Unsupported("L1.PHDR.hash_spec", std::nullopt,
                     "unknown hash '" + hash + "'");
}

bool ConstantTimeEqual(const uint8_t* a, const uint8_t* b, size_t n) {
  return CryptoPP::VerifyBufsEqual(a, b, n);
}

}  // namespace qcow2ref
