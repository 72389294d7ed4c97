#include "reference/crypto/af_splitter.h"

#include <cstring>

#include "reference/crypto/hashes.h"
#include "reference/crypto/luks_fields.h"

namespace qcow2ref {
namespace {

// SPEC(L1.AF.diffuse_h1): chunk i becomes HASH(BE32(i) || chunk i), cropped
// to the chunk's length. SPEC(L1.AF.not_h2): no other variant.
void Diffuse(CryptoPP::HashTransformation& h, uint8_t* block, size_t len) {
  const size_t ds = h.DigestSize();
  SecretBytes digest(ds);
  for (size_t i = 0, off = 0; off < len; ++i, off += ds) {
    const size_t n = std::min(ds, len - off);
    const uint8_t be[4] = {
        static_cast<uint8_t>(i >> 24), static_cast<uint8_t>(i >> 16),
        static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)};
    h.Update(be, 4);
    h.Update(block + off, n);
    h.Final(digest.data());
    std::memcpy(block + off, digest.data(), n);
  }
}

void XorInto(uint8_t* dst, const uint8_t* src, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] ^= src[i];
}

}  // namespace

Result<SecretBytes> AfMerge(const std::string& hash, const uint8_t* material,
                            size_t key_len, uint32_t stripes) {
  // SPEC(L1.AF.hash): the header's hash-spec.
  auto h = HashByName(hash);
  if (!h) {
    return Unsupported("L1.PHDR.hash_spec", LuksField::kHashSpec.offset,
                       "unknown hash '" + hash + "'");
  }
  if (stripes == 0) {
    return Rejected("L1.KS.stripes_4000", std::nullopt, "zero AF stripes");
  }
  // SPEC(L1.AF.merge)
  SecretBytes d(key_len);
  std::memset(d.data(), 0, key_len);
  for (uint32_t k = 0; k + 1 < stripes; ++k) {
    XorInto(d.data(), material + size_t{k} * key_len, key_len);
    Diffuse(*h, d.data(), key_len);
  }
  XorInto(d.data(), material + size_t{stripes - 1} * key_len, key_len);
  return d;
}

Result<SecretBytes> AfSplit(
    const std::string& hash, const uint8_t* key, size_t key_len,
    uint32_t stripes, const std::function<void(uint8_t*, size_t)>& random) {
  auto h = HashByName(hash);
  if (!h) {
    return Unsupported("L1.PHDR.hash_spec", LuksField::kHashSpec.offset,
                       "unknown hash '" + hash + "'");
  }
  if (stripes == 0) {
    return Rejected("L1.KS.stripes_4000", std::nullopt, "zero AF stripes");
  }
  // SPEC(L1.AF.split)
  SecretBytes out(key_len * stripes);
  SecretBytes d(key_len);
  std::memset(d.data(), 0, key_len);
  for (uint32_t k = 0; k + 1 < stripes; ++k) {
    uint8_t* s = out.data() + size_t{k} * key_len;
    random(s, key_len);
    XorInto(d.data(), s, key_len);
    Diffuse(*h, d.data(), key_len);
  }
  uint8_t* last = out.data() + size_t{stripes - 1} * key_len;
  std::memcpy(last, d.data(), key_len);
  XorInto(last, key, key_len);
  return out;
}

}  // namespace qcow2ref
