// Copying a source disk (a raw file or an opened image) into a new image:
// only the ranges the source says may hold data are read, so the cost grows
// with the data, not with the virtual size.
#ifndef QCOW2REF_TOOLS_QCOW2REF_COPY_INTO_H_
#define QCOW2REF_TOOLS_QCOW2REF_COPY_INTO_H_

#include <cstdint>
#include <functional>

#include "reference/io/byte_source.h"
#include "reference/status/status.h"
#include "reference/writer/image_writer.h"

namespace qcow2ref::cli {

struct CopySource {
  using Visit = std::function<Status(uint64_t start, uint64_t end)>;
  // Guest bytes; any length, not only whole sectors or clusters.
  uint64_t size = 0;
  // Reads [offset, offset + length), inside `size`.
  std::function<Status(uint64_t, uint8_t*, uint64_t)> read;
  // Calls the visitor with each range that may hold data, in increasing
  // order; everything else reads as zeros.
  std::function<Status(const Visit&)> for_each_data;
};

// A raw file: its data ranges come from SEEK_DATA/SEEK_HOLE. `file` must
// outlive the result.
CopySource RawCopySource(const FileSource& file);

// Copies `source` into `writer` as far as both reach, then flushes.
// Compressed: every cluster is written compressed (or plain when that does
// not shrink it). Prints a progress bar on stderr when `progress`.
Status CopyInto(ImageWriter* writer, const CopySource& source, bool compress,
                bool progress);

}  // namespace qcow2ref::cli

#endif  // QCOW2REF_TOOLS_QCOW2REF_COPY_INTO_H_
