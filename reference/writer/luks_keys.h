// LUKS key management on an existing crypt_method 2 image, like
// `qemu-img amend`: add a passphrase to a free key slot, remove one, change
// one. The master key (and so the data) never changes.
#ifndef QCOW2REF_REFERENCE_WRITER_LUKS_KEYS_H_
#define QCOW2REF_REFERENCE_WRITER_LUKS_KEYS_H_

#include <cstdint>
#include <optional>

#include "reference/crypto/secret.h"
#include "reference/io/byte_store.h"
#include "reference/status/status.h"

namespace qcow2ref {

struct KeySlotOptions {
  std::optional<int> slot;  // Default: the first free slot.
  uint32_t iterations = 0;  // 0: from iter_time_ms.
  uint32_t iter_time_ms = 2000;
};

// Unlocks with `current` and writes `added` into a free slot. Returns the
// slot used.
Result<int> LuksAddKey(ByteStore* image, const SecretBytes& current,
                       const SecretBytes& added, const KeySlotOptions& options);

// Disables the slot that `key` unlocks (or `slot`, which `key` must still be
// able to unlock through some slot) and wipes its key material. The last
// enabled slot is never removed (QX.LUKS.keep_last_slot).
Result<int> LuksRemoveKey(ByteStore* image, const SecretBytes& key,
                          std::optional<int> slot);

// Adds `replacement` to a free slot, then removes the slot `current` opened.
Result<int> LuksChangeKey(ByteStore* image, const SecretBytes& current,
                          const SecretBytes& replacement,
                          const KeySlotOptions& options);

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_WRITER_LUKS_KEYS_H_
