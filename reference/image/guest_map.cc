#include "reference/image/guest_map.h"

#include <algorithm>

namespace qcow2ref {
namespace {

// Mapping is done in windows so that a sparse multi-terabyte image costs
// time in proportion to its metadata: unallocated L2 ranges are one extent.
constexpr uint64_t kWindow = uint64_t{1} << 40;

void Push(std::vector<MapEntry>* out, const MapEntry& m) {
  if (!out->empty()) {
    MapEntry& last = out->back();
    const bool same = last.depth == m.depth && last.present == m.present &&
                      last.zero == m.zero && last.data == m.data &&
                      last.compressed == m.compressed &&
                      last.start + last.length == m.start &&
                      last.offset.has_value() == m.offset.has_value() &&
                      (!m.offset || *last.offset + last.length == *m.offset);
    if (same) {
      last.length += m.length;
      return;
    }
  }
  out->push_back(m);
}

Status MapRange(const Image& img, uint64_t start, uint64_t length, int depth,
                std::vector<MapEntry>* out, uint64_t max_entries) {
  for (uint64_t pos = start; pos < start + length;) {
    // Past the L1 table the rest is one extent: no window loop over it.
    const uint64_t n = pos >= img.mapped_limit()
                           ? start + length - pos
                           : std::min(kWindow, start + length - pos);
    QCOW2REF_ASSIGN_OR_RETURN(std::vector<Extent> extents,
                              img.MapLayer(pos, n));
    // Like qemu-img, host offsets of encrypted data are not reported: the
    // bytes there are ciphertext.
    const bool show_offsets = img.header().crypt_method == 0;
    for (Extent e : extents) {
      if (!show_offsets) e.has_host = false;
      MapEntry m{e.guest_offset, e.length, depth};
      switch (e.kind) {
        case ClusterKind::kNormal:
          m.present = m.data = true;
          if (e.has_host) m.offset = e.host_offset;
          Push(out, m);
          break;
        case ClusterKind::kCompressed:
          m.present = m.data = m.compressed = true;
          Push(out, m);
          break;
        case ClusterKind::kZero:
          m.present = m.zero = true;
          if (e.has_host) m.offset = e.host_offset;
          Push(out, m);
          break;
        case ClusterKind::kUnallocated: {
          const uint64_t bsize = img.backing_opened() ? img.backing_size() : 0;
          const uint64_t s = e.guest_offset;
          const uint64_t end = s + e.length;
          const uint64_t inside_end = std::min(end, std::max(s, bsize));
          if (inside_end > s) {
            if (img.backing_image() != nullptr) {
              QCOW2REF_RETURN_IF_ERROR(MapRange(*img.backing_image(), s,
                                                inside_end - s, depth + 1, out,
                                                max_entries));
            } else {
              MapEntry r{s, inside_end - s, depth + 1, true, false, true};
              r.offset = s;
              Push(out, r);
            }
          }
          if (end > inside_end) {
            MapEntry z{inside_end, end - inside_end, depth};
            z.zero = true;
            if (e.has_host) z.offset = e.host_offset + (inside_end - s);
            Push(out, z);
          }
          break;
        }
      }
    }
    // SPEC(QX.LIMIT.map_entries)
    if (out->size() > max_entries) {
      return Rejected(
          "QX.LIMIT.map_entries", std::nullopt,
          "the map has more than " + std::to_string(max_entries) + " entries");
    }
    pos += n;
  }
  return OkStatus();
}

}  // namespace

Result<std::vector<MapEntry>> MapGuest(const Image& image,
                                       uint64_t max_entries) {
  std::vector<MapEntry> out;
  QCOW2REF_RETURN_IF_ERROR(
      MapRange(image, 0, image.guest_size(), 0, &out, max_entries));
  return out;
}

}  // namespace qcow2ref
