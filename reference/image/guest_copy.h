// Copies a guest range of an image to a RawSink along the resolved pieces
// (Image::Resolve): zeros as holes, plain extents by the kernel, encrypted
// extents decrypted on two threads, everything else through Image::Read.
// The output is written strictly in guest order; on an error, every byte
// before the failing piece has been written and nothing after it.
#ifndef QCOW2REF_REFERENCE_IMAGE_GUEST_COPY_H_
#define QCOW2REF_REFERENCE_IMAGE_GUEST_COPY_H_

#include <cstdint>

#include "reference/image/image.h"
#include "reference/io/raw_sink.h"

namespace qcow2ref {

struct GuestCopyOptions {
  // Threads that read and decrypt (1: all on the caller's thread).
  int threads = 2;
  // Bytes one thread reads and decrypts at a time: stays in the CPU caches
  // between pread, decrypt and write (docs/performance.md). Rounded down to
  // whole 512-byte sectors (at least one).
  uint64_t chunk = 1ull << 20;
};

Status CopyGuestRange(const Image& image, uint64_t offset, uint64_t length,
                      RawSink* sink, const GuestCopyOptions& options = {});

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_IMAGE_GUEST_COPY_H_
