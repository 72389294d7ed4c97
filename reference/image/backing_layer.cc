// BackingLayer: what the unallocated ranges of a layer show.
#include <algorithm>
#include <cstring>

#include "reference/image/image.h"

namespace qcow2ref {

BackingLayer::BackingLayer() = default;
BackingLayer::BackingLayer(BackingLayer&&) = default;
BackingLayer& BackingLayer::operator=(BackingLayer&&) = default;
BackingLayer::~BackingLayer() = default;

uint64_t BackingLayer::size() const {
  if (image) return image->guest_size();
  if (raw) return raw->Size();
  return 0;
}

Status BackingLayer::Read(uint64_t offset, uint8_t* out,
                          uint64_t length) const {
  // SPEC(Q2.MAP.unallocated): backing data, or zeros without a backing file.
  if (!name) {
    std::memset(out, 0, length);
    return OkStatus();
  }
  // SPEC(QX.BK.no_follow)
  if (!opened()) {
    return Rejected("QX.BK.no_follow", name_offset,
                    "reading this range needs the backing file, which was "
                    "not opened (references are not followed)");
  }
  // SPEC(Q2.BK.past_end_zero)
  const uint64_t bsize = size();
  uint64_t inside = offset < bsize ? std::min(length, bsize - offset) : 0;
  if (inside > 0) {
    if (image) {
      QCOW2REF_RETURN_IF_ERROR(image->Read(offset, out, inside));
    } else {
      QCOW2REF_RETURN_IF_ERROR(raw->ReadAt(offset, out, inside));
    }
  }
  std::memset(out + inside, 0, length - inside);
  return OkStatus();
}

Image::WriterParts Image::ReleaseForWriter(std::unique_ptr<Image> image) {
  WriterParts parts;
  parts.backing = std::move(image->backing_);
  parts.cipher = std::move(image->data_cipher_);
  return parts;
}

}  // namespace qcow2ref
