// Opening files an image names (backing file, external data file) under the
// untrusted-input policy of reference/io/referenced_file.h, and keeping the
// identities of every file of a chain apart: QX.BK.loop, QX.BK.same_file.
#ifndef QCOW2REF_REFERENCE_IMAGE_REFERENCES_H_
#define QCOW2REF_REFERENCE_IMAGE_REFERENCES_H_

#include <memory>
#include <string>

#include "reference/image/image.h"
#include "reference/io/byte_source.h"
#include "reference/io/referenced_file.h"
#include "reference/status/status.h"

namespace qcow2ref {

// Resolves `name` beneath `directory` under the path policy and opens it
// read-only. `what` ("backing file", "external data file") and `at` go into
// messages.
Result<std::unique_ptr<ByteSource>> OpenReferencedFile(
    const std::string& directory, const std::string& name, bool allow_any_path,
    const char* what, uint64_t at);

// Registers an image of the chain; the same file twice is a loop
// (QX.BK.loop), an image that is a data file of the chain is refused
// (QX.BK.same_file). Sources without an identity (memory) pass.
Status RegisterImage(ChainState* chain, const ByteSource& file, uint64_t at);

// Registers an external data file: it must be none of the chain's files.
Status RegisterDataFile(ChainState* chain, const ByteSource& file, uint64_t at);

// The directory part of a path ("." when there is none).
std::string DirectoryOf(const std::string& path);

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_IMAGE_REFERENCES_H_
