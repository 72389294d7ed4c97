// libqcow (libyal, Debian's libqcow-dev) as an in-process peer reader: the
// image bytes are handed to it through an anonymous memory file
// (memfd_create), so no file is left on disk. libqcow is linked
// uninstrumented: its own memory errors surface as crashes of the fuzzer,
// not as sanitizer reports.
#ifndef QCOW2REF_FUZZ_DIFFERENTIAL_LIBQCOW_PEER_H_
#define QCOW2REF_FUZZ_DIFFERENTIAL_LIBQCOW_PEER_H_

#include <cstdint>
#include <string>
#include <vector>

namespace qcow2ref::diff {

// A guest range to read.
struct Window {
  uint64_t offset = 0;
  uint64_t length = 0;
};

struct PeerResult {
  bool opened = false;        // libqcow_file_open succeeded.
  uint64_t media_size = 0;    // libqcow_file_get_media_size.
  bool read_ok = false;       // Every window was read in full.
  std::vector<uint8_t> data;  // The windows read, one after the other.
  uint64_t failed_at = 0;     // Guest offset of the read that failed.
  std::string error;          // libqcow's first error line, when it failed.
};

// Opens `image` with libqcow and reads `windows` in order (each clipped to
// its media size), in pieces of at most 64 KiB, as a reader of a disk would.
PeerResult LibqcowRead(const std::vector<uint8_t>& image,
                       const std::vector<Window>& windows);

}  // namespace qcow2ref::diff

#endif  // QCOW2REF_FUZZ_DIFFERENTIAL_LIBQCOW_PEER_H_
