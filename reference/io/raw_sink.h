// Where `read` puts raw guest bytes: any descriptor (a regular file, a pipe,
// a device). A regular file that can be written at any position gets the
// fast paths: zeros become holes where the file had no bytes before (as
// qemu-img convert writes them), and plain extents are copied by the kernel
// (copy_file_range). Everything else is written in order with write(2). The
// bytes that reach the output are the same either way (cli_test proves it).
#ifndef QCOW2REF_REFERENCE_IO_RAW_SINK_H_
#define QCOW2REF_REFERENCE_IO_RAW_SINK_H_

#include <cstdint>
#include <vector>

#include "reference/io/byte_source.h"
#include "reference/status/status.h"

namespace qcow2ref {

class RawSink {
 public:
  // Judges `fd` (not owned) once; output starts at its current position.
  explicit RawSink(int fd);

  // True when holes and kernel copies are possible.
  bool positional() const { return positional_; }

  Status Write(const uint8_t* data, uint64_t length);
  // `length` zero bytes: a hole where the file had no bytes yet.
  Status WriteZeros(uint64_t length);
  // `length` bytes of `file` at `offset`, all inside the file.
  Status Copy(const ByteSource& file, uint64_t offset, uint64_t length);
  // Makes a final hole part of the file and leaves the descriptor's position
  // after the last byte written.
  Status Finish();

  // Counters for tests and the benchmark's profile.
  uint64_t kernel_copied() const { return kernel_copied_; }
  uint64_t hole_bytes() const { return hole_bytes_; }

 private:
  Status CopyThroughMemory(const ByteSource& file, uint64_t offset,
                           uint64_t length);

  int fd_;
  bool positional_ = false;
  bool kernel_copy_ = true;  // Until the kernel refuses once.
  uint64_t pos_ = 0;         // Next output offset (positional).
  uint64_t old_end_ = 0;     // Bytes the file had: no hole below this.
  uint64_t kernel_copied_ = 0;
  uint64_t hole_bytes_ = 0;
  std::vector<uint8_t> buffer_;
};

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_IO_RAW_SINK_H_
