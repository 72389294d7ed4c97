// Before the first write into an existing image: proof that what the writer
// may touch is sound (QX.WRITE.sound_before_write).
#ifndef QCOW2REF_REFERENCE_WRITER_SOUNDNESS_H_
#define QCOW2REF_REFERENCE_WRITER_SOUNDNESS_H_

#include "reference/io/byte_store.h"
#include "reference/status/status.h"

namespace qcow2ref {

// Runs the checker over the image in `store` (metadata only: no
// decompression, no key unlock) and fails with the first corruption it
// finds, or when the check cannot finish. Leaks and warnings do not stop a
// write. The cost follows the image's metadata, not its virtual size.
Status ProveSoundForWriting(const ByteStore& store);

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_WRITER_SOUNDNESS_H_
