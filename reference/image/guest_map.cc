#include "reference/image/guest_map.h"

#include <algorithm>
#include <optional>

#include "reference/status/checked_math.h"

namespace qcow2ref {
namespace {

// Mapping is done in windows so that a sparse multi-terabyte image costs
// time in proportion to its metadata: unallocated L2 ranges are one extent.
constexpr uint64_t kWindow = uint64_t{1} << 40;

// Merges adjacent entries that differ only in position and hands each
// finished entry to `visit`: the map streams, whatever its length.
class Emitter {
 public:
  explicit Emitter(const std::function<Status(const MapEntry&)>& visit)
      : visit_(visit) {}
  Status Push(const MapEntry& m) {
    if (pending_) {
      MapEntry& last = *pending_;
      const bool same = last.depth == m.depth && last.present == m.present &&
                        last.zero == m.zero && last.data == m.data &&
                        last.compressed == m.compressed &&
                        last.start + last.length == m.start &&
                        last.offset.has_value() == m.offset.has_value() &&
                        (!m.offset || *last.offset + last.length == *m.offset);
      if (same) {
        last.length += m.length;
        return OkStatus();
      }
      QCOW2REF_RETURN_IF_ERROR(visit_(last));
    }
    pending_ = m;
    return OkStatus();
  }
  Status Finish() {
    if (!pending_) return OkStatus();
    Status st = visit_(*pending_);
    pending_.reset();
    return st;
  }

 private:
  const std::function<Status(const MapEntry&)>& visit_;
  std::optional<MapEntry> pending_;
};

Status MapRange(const Image& img, uint64_t start, uint64_t length, int depth,
                Emitter* out) {
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
          QCOW2REF_RETURN_IF_ERROR(out->Push(m));
          break;
        case ClusterKind::kCompressed:
          m.present = m.data = m.compressed = true;
          QCOW2REF_RETURN_IF_ERROR(out->Push(m));
          break;
        case ClusterKind::kZero:
          m.present = m.zero = true;
          if (e.has_host) m.offset = e.host_offset;
          QCOW2REF_RETURN_IF_ERROR(out->Push(m));
          break;
        case ClusterKind::kUnallocated: {
          const uint64_t bsize = img.backing_opened() ? img.backing_size() : 0;
          const uint64_t s = e.guest_offset;
          const uint64_t end = s + e.length;
          const uint64_t inside_end = std::min(end, std::max(s, bsize));
          if (inside_end > s) {
            if (img.backing_image() != nullptr) {
              QCOW2REF_RETURN_IF_ERROR(MapRange(
                  *img.backing_image(), s, inside_end - s, depth + 1, out));
            } else {
              MapEntry r{s, inside_end - s, depth + 1, true, false, true};
              r.offset = s;
              QCOW2REF_RETURN_IF_ERROR(out->Push(r));
            }
          }
          if (end > inside_end) {
            MapEntry z{inside_end, end - inside_end, depth};
            z.zero = true;
            if (e.has_host) z.offset = e.host_offset + (inside_end - s);
            QCOW2REF_RETURN_IF_ERROR(out->Push(z));
          }
          break;
        }
      }
    }
    pos += n;
  }
  return OkStatus();
}

}  // namespace

Status ForEachMapEntry(const Image& image, uint64_t start, uint64_t length,
                       const std::function<Status(const MapEntry&)>& visit) {
  if (!RangeWithin(start, length, image.guest_size())) {
    return UsageError("map range past the guest size");
  }
  Emitter out(visit);
  QCOW2REF_RETURN_IF_ERROR(MapRange(image, start, length, 0, &out));
  return out.Finish();
}

Result<std::vector<MapEntry>> MapGuest(const Image& image,
                                       uint64_t max_entries) {
  std::vector<MapEntry> out;
  QCOW2REF_RETURN_IF_ERROR(ForEachMapEntry(
      image, 0, image.guest_size(), [&](const MapEntry& m) -> Status {
        // SPEC(QX.LIMIT.map_entries): the cap holds for the whole call.
        if (out.size() >= max_entries) {
          return Rejected("QX.LIMIT.map_entries", std::nullopt,
                          "the map has more than " +
                              std::to_string(max_entries) + " entries");
        }
        out.push_back(m);
        return OkStatus();
      }));
  return out;
}

}  // namespace qcow2ref
