// Building a LUKS1 area the way QEMU lays it out (spec-facts 11.3): header,
// 8 key slot areas of ROUND_UP(ceil(key-bytes x 4000 / 512), 8) sectors from
// sector 8, payload offset after them; slot 0 holds the master key.
#ifndef QCOW2REF_REFERENCE_WRITER_LUKS_CREATE_H_
#define QCOW2REF_REFERENCE_WRITER_LUKS_CREATE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "reference/crypto/luks_header.h"
#include "reference/crypto/secret.h"
#include "reference/status/status.h"
#include "reference/writer/random_source.h"

namespace qcow2ref {

struct LuksCreateOptions {
  CipherSuite suite;
  std::string hash = "sha256";
  uint32_t slot_iterations = 0;    // 0: from iter_time_ms.
  uint32_t digest_iterations = 0;  // 0: from iter_time_ms.
  uint32_t iter_time_ms = 2000;    // QEMU's default.
};

struct LuksArea {
  std::vector<uint8_t> bytes;  // payload-offset x 512 bytes.
  LuksHeader header;
  SecretBytes master_key;
};

Result<LuksArea> CreateLuksArea(const LuksCreateOptions& options,
                                const SecretBytes& passphrase,
                                const RandomFill& random);

// Writes key slot `slot` of an existing area for `passphrase`, holding
// `master_key` (used by create and by key management).
Status FillKeySlot(LuksArea* area, int slot, const SecretBytes& passphrase,
                   uint32_t iterations, const RandomFill& random);

// PBKDF2 iterations per second for `hash` with an output of `out_len` bytes,
// measured as QEMU does before choosing counts from an iteration time.
uint64_t MeasurePbkdf2Rate(const std::string& hash, size_t out_len);

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_WRITER_LUKS_CREATE_H_
