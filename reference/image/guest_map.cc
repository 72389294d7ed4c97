#include "reference/image/guest_map.h"

#include <algorithm>
#include <map>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "reference/status/checked_math.h"

namespace qcow2ref {
namespace {

using Visit = std::function<Status(const MapEntry&)>;

// Merges adjacent entries that differ only in position and hands each
// finished entry to `visit`: the map streams, whatever its length.
class Emitter {
 public:
  explicit Emitter(const Visit& visit) : visit_(visit) {}
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
  const Visit& visit_;
  std::optional<MapEntry> pending_;
};

// SPEC(QX.LIMIT.map_stream): what one call remembers per image of the chain.
// An L2 table met a second time under a whole-table window is walked once
// more and its merged entries kept (relative to the window); from the third
// time on they are replayed. Kept entries are bounded by what the call emits
// (each kept summary is emitted at least once), hence by the entry cap.
struct TableMemo {
  std::unordered_set<uint64_t> seen;
  std::unordered_map<uint64_t, std::vector<MapEntry>> summary;
};

struct MapState {
  Emitter* out;
  std::map<const Image*, TableMemo> memos;
};

// Turns one layer's extents of a window into map entries, recursing into the
// backing image for unallocated ranges inside it.
Status EmitExtents(const Image& img, std::vector<Extent> extents, int depth,
                   const Visit& push, MapState* state);

Status MapRange(const Image& img, uint64_t start, uint64_t length, int depth,
                MapState* state) {
  const uint64_t table_span = img.geometry().bytes_per_l2_table();
  const uint64_t bsize = img.backing_opened() ? img.backing_size() : 0;
  const Visit push = [state](const MapEntry& m) { return state->out->Push(m); };
  for (uint64_t pos = start; pos < start + length;) {
    // One L2 table per window: memory stays bounded by one table's extents.
    // Past the L1 table the rest is one extent: no window loop over it.
    const uint64_t n =
        pos >= img.mapped_limit()
            ? start + length - pos
            : std::min(table_span - pos % table_span, start + length - pos);
    const uint64_t table =
        n == table_span ? img.l2_table_offset(pos) : uint64_t{0};
    TableMemo& memo = state->memos[&img];
    if (table != 0) {
      auto it = memo.summary.find(table);
      if (it != memo.summary.end()) {
        for (MapEntry m : it->second) {
          m.start += pos;
          QCOW2REF_RETURN_IF_ERROR(push(m));
        }
        pos += n;
        continue;
      }
    }
    QCOW2REF_ASSIGN_OR_RETURN(std::vector<Extent> extents,
                              img.MapLayer(pos, n));
    // A window's entries depend on its position only through the backing
    // file: without unallocated ranges below the backing size they can be
    // replayed elsewhere.
    bool position_free = pos >= bsize;
    if (!position_free) {
      position_free = std::none_of(
          extents.begin(), extents.end(),
          [](const Extent& e) { return e.kind == ClusterKind::kUnallocated; });
    }
    if (table != 0 && position_free && memo.seen.count(table) != 0) {
      std::vector<MapEntry> kept;
      const Visit keep = [&kept, pos](const MapEntry& m) {
        MapEntry r = m;
        r.start -= pos;
        kept.push_back(r);
        return OkStatus();
      };
      Emitter local(keep);
      const Visit to_local = [&local](const MapEntry& m) {
        return local.Push(m);
      };
      QCOW2REF_RETURN_IF_ERROR(
          EmitExtents(img, std::move(extents), depth, to_local, state));
      QCOW2REF_RETURN_IF_ERROR(local.Finish());
      for (MapEntry m : kept) {
        m.start += pos;
        QCOW2REF_RETURN_IF_ERROR(push(m));
      }
      memo.summary.emplace(table, std::move(kept));
    } else {
      QCOW2REF_RETURN_IF_ERROR(
          EmitExtents(img, std::move(extents), depth, push, state));
    }
    if (table != 0) memo.seen.insert(table);
    pos += n;
  }
  return OkStatus();
}

Status EmitExtents(const Image& img, std::vector<Extent> extents, int depth,
                   const Visit& push, MapState* state) {
  // Like qemu-img, host offsets of encrypted data are not reported: the
  // bytes there are ciphertext.
  const bool show_offsets = img.header().crypt_method == CryptMethod::kNone;
  for (Extent e : extents) {
    if (!show_offsets) e.has_host = false;
    MapEntry m{e.guest_offset, e.length, depth};
    switch (e.kind) {
      case ClusterKind::kNormal:
        m.present = m.data = true;
        if (e.has_host) m.offset = e.host_offset;
        QCOW2REF_RETURN_IF_ERROR(push(m));
        break;
      case ClusterKind::kCompressed:
        m.present = m.data = m.compressed = true;
        QCOW2REF_RETURN_IF_ERROR(push(m));
        break;
      case ClusterKind::kZero:
        m.present = m.zero = true;
        if (e.has_host) m.offset = e.host_offset;
        QCOW2REF_RETURN_IF_ERROR(push(m));
        break;
      case ClusterKind::kUnallocated: {
        const uint64_t bsize = img.backing_opened() ? img.backing_size() : 0;
        const uint64_t s = e.guest_offset;
        const uint64_t end = s + e.length;
        const uint64_t inside_end = std::min(end, std::max(s, bsize));
        if (inside_end > s) {
          if (img.backing_image() != nullptr) {
            QCOW2REF_RETURN_IF_ERROR(MapRange(
                *img.backing_image(), s, inside_end - s, depth + 1, state));
          } else {
            MapEntry r{s, inside_end - s, depth + 1, true, false, true};
            r.offset = s;
            QCOW2REF_RETURN_IF_ERROR(push(r));
          }
        }
        if (end > inside_end) {
          MapEntry z{inside_end, end - inside_end, depth};
          z.zero = true;
          if (e.has_host) z.offset = e.host_offset + (inside_end - s);
          QCOW2REF_RETURN_IF_ERROR(push(z));
        }
        break;
      }
    }
  }
  return OkStatus();
}

}  // namespace

Status ForEachMapEntry(const Image& image, uint64_t start, uint64_t length,
                       const std::function<Status(const MapEntry&)>& visit,
                       uint64_t max_entries) {
  if (!RangeWithin(start, length, image.guest_size())) {
    return UsageError("map range past the guest size");
  }
  uint64_t count = 0;
  const Visit capped = [&](const MapEntry& m) -> Status {
    // SPEC(QX.LIMIT.map_entries): the cap holds for the whole call.
    if (count >= max_entries) {
      return Rejected(
          "QX.LIMIT.map_entries", std::nullopt,
          "the map has more than " + std::to_string(max_entries) + " entries");
    }
    ++count;
    return visit(m);
  };
  Emitter out(capped);
  MapState state{&out, {}};
  QCOW2REF_RETURN_IF_ERROR(MapRange(image, start, length, 0, &state));
  return out.Finish();
}

Result<std::vector<MapEntry>> MapGuest(const Image& image,
                                       uint64_t max_entries) {
  std::vector<MapEntry> out;
  QCOW2REF_RETURN_IF_ERROR(ForEachMapEntry(
      image, 0, image.guest_size(),
      [&](const MapEntry& m) -> Status {
        out.push_back(m);
        return OkStatus();
      },
      max_entries));
  return out;
}

}  // namespace qcow2ref
