#include "reference/io/byte_source.h"

#include <cstring>

#include "reference/status/checked_math.h"

namespace qcow2ref {

Status ByteSource::ReadAtZeroFilled(uint64_t offset, uint8_t* out,
                                    size_t length) const {
  const uint64_t size = Size();
  size_t inside = 0;
  if (offset < size) {
    inside = static_cast<size_t>(std::min<uint64_t>(length, size - offset));
    QCOW2REF_RETURN_IF_ERROR(ReadAt(offset, out, inside));
  }
  std::memset(out + inside, 0, length - inside);
  return OkStatus();
}

MemorySource::MemorySource(std::vector<uint8_t> bytes, std::string name)
    : bytes_(std::move(bytes)), name_(std::move(name)) {}

Status MemorySource::ReadAt(uint64_t offset, uint8_t* out,
                            size_t length) const {
  if (!RangeWithin(offset, length, bytes_.size())) {
    return IoError("read of " + std::to_string(length) + " bytes at " +
                   std::to_string(offset) + " past the end of " + name_);
  }
  if (length > 0) std::memcpy(out, bytes_.data() + offset, length);
  return OkStatus();
}

}  // namespace qcow2ref
