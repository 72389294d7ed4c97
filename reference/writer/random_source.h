// Randomness for salts, master keys and UUIDs: the OS generator, or a
// deterministic ChaCha20 keystream for reproducible test vectors (never for
// real secrets).
#ifndef QCOW2REF_REFERENCE_WRITER_RANDOM_SOURCE_H_
#define QCOW2REF_REFERENCE_WRITER_RANDOM_SOURCE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace qcow2ref {

using RandomFill = std::function<void(uint8_t*, size_t)>;

// Crypto++ AutoSeededRandomPool.
RandomFill OsRandom();

// ChaCha20 keyed by SHA-256(seed), zero nonce: the same seed gives the same
// bytes (QX.WRITE.deterministic_seed).
RandomFill DeterministicRandom(const std::vector<uint8_t>& seed);

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_WRITER_RANDOM_SOURCE_H_
