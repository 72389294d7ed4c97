// A guest range resolved through a whole backing chain into where its bytes
// come from, for copy fast paths (a kernel-side copy, a hole, decryption on
// the caller's threads). Reading every piece as it says gives the same bytes
// as Image::Read; a piece that needs anything else is kSlow, and Image::Read
// is then the one path (it reports any error, naming its clause).
#ifndef QCOW2REF_REFERENCE_IMAGE_RESOLVED_PIECE_H_
#define QCOW2REF_REFERENCE_IMAGE_RESOLVED_PIECE_H_

#include <cstdint>
#include <optional>

#include "reference/crypto/sector_cipher.h"
#include "reference/io/byte_source.h"
#include "reference/status/status.h"

namespace qcow2ref {

enum class PieceSource {
  kZeros,      // All zero bytes.
  kFile,       // `length` bytes of `file` at `file_offset`, all inside it.
  kEncrypted,  // kFile bytes, whole sectors, decrypted by `cipher` with the
               // first sector's IV from `iv_sector` (then +1 per sector).
  kSlow,       // Anything else: read with Image::Read.
  kError,      // Stored data Image::Read refuses as a whole: `error`, the
               // error it gives for this extent (never merged, never split,
               // so that reading it in parts cannot change which error
               // comes first).
};

struct ResolvedPiece {
  PieceSource source = PieceSource::kSlow;
  uint64_t guest_offset = 0;
  uint64_t length = 0;
  const ByteSource* file = nullptr;
  uint64_t file_offset = 0;
  const SectorCipher* cipher = nullptr;
  uint64_t iv_sector = 0;
  std::optional<Error> error;  // kError.
};

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_IMAGE_RESOLVED_PIECE_H_
