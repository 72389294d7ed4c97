// Judging a freshly opened descriptor before anything is read from it or
// written to it: its type (regular file, or block device when allowed), its
// size and its identity.
#ifndef QCOW2REF_REFERENCE_IO_DESCRIPTOR_H_
#define QCOW2REF_REFERENCE_IO_DESCRIPTOR_H_

#include <cstdint>
#include <optional>
#include <set>
#include <string>

#include "reference/io/file_id.h"
#include "reference/status/status.h"

namespace qcow2ref {

struct OpenedFd {
  int fd = -1;
  uint64_t size = 0;
  FileId id;
  bool regular = false;
};

// How a descriptor is judged. `clause` (with `at`) names the refusal of a
// file of the wrong type; without it the refusal is an I/O error.
struct AdoptRules {
  bool allow_block = true;
  const char* clause = nullptr;
  std::optional<uint64_t> at;
  // Identities the file must not have (the inputs of a command whose output
  // this is): refused with QX.CLI.output_not_input.
  const std::set<FileId>* must_not_be = nullptr;
};

// `fd` was opened with O_NONBLOCK (so that a FIFO cannot hang the open).
// Checks it against `rules`, then clears O_NONBLOCK. Closes `fd` on failure.
Result<OpenedFd> AdoptDescriptor(int fd, const std::string& name,
                                 const AdoptRules& rules);

// The identity of the file at `path` (following symlinks), if it exists.
std::optional<FileId> IdentityOfPath(const std::string& path);
// The identity of an open descriptor (nullopt if it is not open).
std::optional<FileId> IdentityOfDescriptor(int fd);

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_IO_DESCRIPTOR_H_
