// The one policy for files an image names (backing file, external data
// file), used by the reader, the writer and every command:
// - QX.BK.path_policy: the name is relative and stays in the image's
//   directory by its text;
// - QX.BK.resolve_beneath: and by its resolution, decided by the kernel at
//   open (no symlink or ".." leaves the directory);
// - QX.BK.regular_only: only a regular file is used (a block device only
//   with allow_any_path), judged by fstat on a non-blocking open before any
//   byte is read.
// allow_any_path lifts the first two.
#ifndef QCOW2REF_REFERENCE_IO_REFERENCED_FILE_H_
#define QCOW2REF_REFERENCE_IO_REFERENCED_FILE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "reference/io/byte_source.h"
#include "reference/io/byte_store.h"
#include "reference/io/descriptor.h"
#include "reference/status/status.h"

namespace qcow2ref {

struct ReferenceRequest {
  std::string directory = ".";  // The naming image's directory.
  std::string name;             // As stored in the image.
  bool allow_any_path = false;
  const char* what = "referenced file";  // For messages.
  std::optional<uint64_t> at;            // Where the image stores the name.
};

// True when `name` is relative and never climbs above its starting directory.
bool IsContainedRelativePath(const std::string& name);

// The path the name stands for: `name` when absolute, else directory/name.
std::string ReferencedPath(const ReferenceRequest& request);

// Opens the file under the policy with open(2) access `flags` (O_RDONLY, or
// O_RDWR with O_CREAT / O_EXCL); `must_not_be` as in AdoptRules.
Result<OpenedFd> OpenReferenced(const ReferenceRequest& request, int flags,
                                const std::set<FileId>* must_not_be = nullptr);

// Read-only, for the reader.
Result<std::unique_ptr<FileSource>> OpenReferencedSource(
    const ReferenceRequest& request);

// Read-write, for the writer: an existing file, or (`create`) a new one
// that may replace an existing one only when `overwrite` (then truncated
// after it was judged, never before).
Result<std::unique_ptr<FileStore>> OpenReferencedStore(
    const ReferenceRequest& request, bool create, bool overwrite,
    const std::set<FileId>* must_not_be = nullptr);

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_IO_REFERENCED_FILE_H_
