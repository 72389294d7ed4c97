// luks_fuzzer: the input is the start of a LUKS1 area (the bytes the qcow2
// full disk encryption extension points at: header, key material, payload).
// ParseLuksHeader, then UnlockLuks with a fixed passphrase over the same
// bytes held in memory. Fuzz builds cap PBKDF2 at 2000 iterations
// (QX.LIMIT.pbkdf2_iterations_cap), so an input costs a few milliseconds.
// On success the master key must verify and key a cipher that decrypts and
// re-encrypts the first payload sectors exactly.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "reference/crypto/luks_header.h"
#include "reference/crypto/luks_unlock.h"
#include "reference/crypto/secret.h"
#include "reference/crypto/sector_cipher.h"
#include "reference/io/byte_source.h"
#include "reference/status/endian.h"

namespace {

using namespace qcow2ref;

bool SameHeader(const LuksHeader& a, const LuksHeader& b) {
  if (a.version != b.version || a.cipher_name != b.cipher_name ||
      a.cipher_mode != b.cipher_mode || a.hash_spec != b.hash_spec ||
      a.payload_offset != b.payload_offset || a.key_bytes != b.key_bytes ||
      a.mk_digest != b.mk_digest || a.mk_digest_salt != b.mk_digest_salt ||
      a.mk_digest_iter != b.mk_digest_iter || a.suite.Name() != b.suite.Name())
    return false;
  // A 40-character uuid has no terminator and serializes cut to 39.
  if (a.uuid.size() < 40 && a.uuid != b.uuid) return false;
  for (int i = 0; i < kLuksSlots; ++i) {
    const LuksKeySlot& x = a.slots[i];
    const LuksKeySlot& y = b.slots[i];
    if (x.active != y.active || x.iterations != y.iterations ||
        x.salt != y.salt || x.key_material_offset != y.key_material_offset ||
        x.stripes != y.stripes)
      return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The passphrase of most LUKS vectors (vectors/qcow2_luks_test.json).
  static const SecretBytes* const kPass =
      new SecretBytes(SecretFromString("small-src"));
  // The LUKS area (the FDE length) runs to the payload offset when that lies
  // past the input, so that inputs need to carry only the key material of the
  // slots they enable (all 8 slots must fit in the area); reads past the
  // input fail like reads past the end of a file.
  uint64_t area = size;
  if (size >= 108) {
    const uint64_t payload = uint64_t{LoadBe32(data + 104)} * kSectorSize;
    area = std::max<uint64_t>(size, std::min<uint64_t>(payload, 64ull << 20));
  }
  auto h = ParseLuksHeader(data, size, 0, area);
  if (!h.ok()) return 0;
  // parse(serialize(h)) == h.
  const std::vector<uint8_t> bytes = SerializeLuksHeader(*h);
  auto again = ParseLuksHeader(bytes.data(), bytes.size(), 0, area);
  if (again.ok()) FUZZ_CHECK(SameHeader(*h, *again));

  MemorySource file(std::vector<uint8_t>(data, data + size));
  auto unlocked = UnlockLuks(*h, file, 0, *kPass);
  if (!unlocked.ok()) return 0;
  FUZZ_CHECK(unlocked->slot >= 0 && unlocked->slot < kLuksSlots);
  FUZZ_CHECK(h->slots[unlocked->slot].enabled());
  FUZZ_CHECK(unlocked->master_key.size() == h->key_bytes);
  auto match = LuksMasterKeyMatches(*h, unlocked->master_key);
  FUZZ_CHECK(match.ok() && *match);
  auto cipher = SectorCipher::Create(h->suite, unlocked->master_key.data(),
                                     unlocked->master_key.size());
  if (!cipher.ok()) return 0;
  // Decrypt then encrypt up to 4 sectors of payload: the bytes come back.
  const uint64_t payload = uint64_t{h->payload_offset} * kSectorSize;
  if (payload >= size) return 0;
  const size_t n =
      std::min<size_t>((size - payload) / kSectorSize, 4) * kSectorSize;
  std::vector<uint8_t> buf(data + payload, data + payload + n);
  FUZZ_CHECK((*cipher)->Decrypt(buf.data(), n, h->payload_offset).ok());
  FUZZ_CHECK((*cipher)->Encrypt(buf.data(), n, h->payload_offset).ok());
  FUZZ_CHECK(std::memcmp(buf.data(), data + payload, n) == 0);
  return 0;
}
