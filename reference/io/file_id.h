// The identity of a host file: device and inode, as fstat reports them. Two
// names (hard links, symlinks, "a/../b") for one file have one identity.
#ifndef QCOW2REF_REFERENCE_IO_FILE_ID_H_
#define QCOW2REF_REFERENCE_IO_FILE_ID_H_

#include <cstdint>
#include <tuple>

namespace qcow2ref {

struct FileId {
  uint64_t dev = 0;
  uint64_t ino = 0;
  bool operator<(const FileId& o) const {
    return std::tie(dev, ino) < std::tie(o.dev, o.ino);
  }
  bool operator==(const FileId& o) const {
    return dev == o.dev && ino == o.ino;
  }
  bool operator!=(const FileId& o) const { return !(*this == o); }
};

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_IO_FILE_ID_H_
