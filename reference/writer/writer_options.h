// Options for creating and writing images, validated before anything is
// written (QX.WRITE.validate_first).
#ifndef QCOW2REF_REFERENCE_WRITER_WRITER_OPTIONS_H_
#define QCOW2REF_REFERENCE_WRITER_WRITER_OPTIONS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "reference/crypto/secret.h"
#include "reference/status/status.h"

namespace qcow2ref {

enum class Encryption { kNone, kAes, kLuks };

struct CreateOptions {
  uint64_t size = 0;
  uint32_t version = 3;
  uint32_t cluster_bits = 16;
  uint32_t refcount_order = 4;
  bool extended_l2 = false;
  uint8_t compression_type = 0;  // 0 deflate ("zlib"), 1 zstd
  bool lazy_refcounts = false;
  std::string backing_file;    // Name stored in the image.
  std::string backing_format;  // "raw", "qcow2" or "" (no extension).
  std::string data_file;       // External data file name (stored).
  bool data_file_raw = false;
  Encryption encryption = Encryption::kNone;
  // LUKS: cipher spec like "aes-256-xts-plain64", hash, PBKDF2 cost.
  std::string luks_cipher = "aes-256-xts-plain64";
  std::string luks_hash = "sha256";
  uint32_t luks_iterations = 0;  // 0: from luks_iter_time_ms.
  uint32_t luks_iter_time_ms = 2000;
  // Reproducible salts, keys and UUID (test vectors only; not secure).
  std::optional<std::vector<uint8_t>> deterministic_seed;
};

// Checks every option and their combinations; errors are usage errors that
// name the clause when there is one.
Status ValidateCreateOptions(const CreateOptions& o);

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_WRITER_WRITER_OPTIONS_H_
