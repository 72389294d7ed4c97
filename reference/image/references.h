// Opening files an image names (backing file, external data file) under the
// untrusted-input policy: QX.BK.path_policy, QX.BK.loop.
#ifndef QCOW2REF_REFERENCE_IMAGE_REFERENCES_H_
#define QCOW2REF_REFERENCE_IMAGE_REFERENCES_H_

#include <memory>
#include <string>

#include "reference/image/image.h"
#include "reference/io/byte_source.h"
#include "reference/status/status.h"

namespace qcow2ref {

// True when `name` is relative and never climbs above its starting directory.
bool IsContainedRelativePath(const std::string& name);

// Resolves `name` against `directory`, enforcing the path policy, and opens it.
// `what` ("backing file", "external data file") and `at` go into messages.
Result<std::unique_ptr<ByteSource>> OpenReferencedFile(
    const std::string& directory, const std::string& name, bool allow_any_path,
    const char* what, uint64_t at);

// Registers the file's identity in the chain; a second registration of the
// same file is a loop (QX.BK.loop).
Status RegisterInChain(ChainState* chain, const std::string& path, uint64_t at);

// The directory part of a path ("." when there is none).
std::string DirectoryOf(const std::string& path);

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_IMAGE_REFERENCES_H_
