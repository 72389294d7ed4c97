// ImageWriter's bitmap commands, with qemu-img bitmap's semantics: add,
// remove, clear, enable, disable, merge. Every change writes new bitmap
// data, tables and a new directory, flushes them, then makes the header
// name them (QX.WRITE.bitmap_edit_order); what the old directory named is
// freed only afterwards.
#include <algorithm>
#include <cstring>

#include "reference/format/bitmap_directory.h"
#include "reference/format/bitmap_fields.h"
#include "reference/format/extension_fields.h"
#include "reference/format/extensions.h"
#include "reference/format/header_fields.h"
#include "reference/format/limits.h"
#include "reference/status/checked_math.h"
#include "reference/status/endian.h"
#include "reference/writer/image_writer.h"

namespace qcow2ref {
namespace {

using BmxF = BitmapsExtensionField;

constexpr uint64_t kTableOffsetMask = 0x00fffffffffffe00ull;

// Offsets in cluster 0 of the bitmaps extension record (or 0) and of the
// end-of-extensions marker (or 0 when the list is not terminated).
struct ExtensionWalk {
  uint64_t bitmaps = 0;
  uint64_t end_marker = 0;
};

ExtensionWalk WalkExtensions(const std::vector<uint8_t>& c0, uint64_t first) {
  ExtensionWalk w;
  for (uint64_t at = first; at + kExtensionDataStart <= c0.size();) {
    const uint32_t type =
        LoadField<uint32_t>(c0.data() + at, ExtensionField::kType);
    const uint64_t length = LoadField(c0.data() + at, ExtensionField::kLength);
    if (type == kExtEnd) {
      w.end_marker = at;
      break;
    }
    if (type == kExtBitmaps) w.bitmaps = at;
    at += kExtensionDataStart + DivRoundUp(length, 8) * 8;
  }
  return w;
}

int FindByName(const std::vector<BitmapEntry>& all, const std::string& name) {
  for (size_t i = 0; i < all.size(); ++i) {
    if (all[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

Error NotFound(const std::string& name) {
  // SPEC(QX.WRITE.bitmap_names)
  return Rejected("QX.WRITE.bitmap_names", std::nullopt,
                  "no persistent bitmap is named '" + name + "'");
}

Status RefuseInUse(const BitmapEntry& b) {
  // SPEC(QX.WRITE.bitmap_in_use_refused): its bits cannot be trusted;
  // only removing it is allowed, as qemu-img allows.
  if (b.flags & kBitmapFlagInUse) {
    return Rejected("QX.WRITE.bitmap_in_use_refused",
                    b.entry_offset + BitmapField::kFlags.offset,
                    "the persistent bitmap '" + b.name +
                        "' is marked in use (inconsistent): only "
                        "remove is allowed");
  }
  return OkStatus();
}

}  // namespace

Result<ImageWriter::BitmapDir> ImageWriter::ReadBitmapDir() {
  // Guest changes not yet stored go in first.
  QCOW2REF_RETURN_IF_ERROR(StoreBitmaps());
  BitmapDir d;
  std::vector<uint8_t> c0(g_.cluster_size);
  QCOW2REF_RETURN_IF_ERROR(store_->ReadAtZeroFilled(0, c0.data(), c0.size()));
  const ExtensionWalk w = WalkExtensions(c0, header_.header_length);
  // SPEC(Q2.BMX.autoclear_bit): without the bit the extension is ignored;
  // it is replaced as if there were none.
  if (w.bitmaps == 0 || (header_.autoclear_features & kAutoclearBitmaps) == 0)
    return d;
  const uint8_t* e = c0.data() + w.bitmaps + kExtensionDataStart;
  const uint32_t nb = LoadField<uint32_t>(e, BmxF::kNbBitmaps);
  d.size = LoadField(e, BmxF::kDirectorySize);
  d.offset = LoadField(e, BmxF::kDirectoryOffset);
  std::vector<uint8_t> dir(d.size);
  QCOW2REF_RETURN_IF_ERROR(store_->ReadAt(d.offset, dir.data(), dir.size()));
  QCOW2REF_ASSIGN_OR_RETURN(
      d.entries,
      ParseBitmapDirectory(header_, dir.data(), dir.size(), nb, d.offset));
  for (size_t i = 0; i < d.entries.size(); ++i) {
    const uint64_t from = d.entries[i].entry_offset - d.offset;
    const uint64_t to = i + 1 < d.entries.size()
                            ? d.entries[i + 1].entry_offset - d.offset
                            : d.size;
    d.raw.emplace_back(dir.begin() + from, dir.begin() + to);
  }
  d.valid = true;
  return d;
}

Result<std::vector<uint8_t>> ImageWriter::ReadBitmapBits(const BitmapEntry& b) {
  const uint64_t cs = g_.cluster_size;
  std::vector<uint8_t> table(uint64_t{b.table_size} * 8);
  QCOW2REF_RETURN_IF_ERROR(
      store_->ReadAt(b.table_offset, table.data(), table.size()));
  std::vector<uint8_t> bits(uint64_t{b.table_size} * cs, 0);
  for (uint64_t j = 0; j < b.table_size; ++j) {
    const uint64_t e = LoadBe64(table.data() + 8 * j);
    if (e & kTableOffsetMask) {
      QCOW2REF_RETURN_IF_ERROR(
          store_->ReadAt(e & kTableOffsetMask, bits.data() + j * cs, cs));
    } else if (e & 1) {
      std::fill(bits.begin() + j * cs, bits.begin() + (j + 1) * cs, 0xff);
    }
  }
  return bits;
}

Result<uint64_t> ImageWriter::WriteBitmapBits(const std::vector<uint8_t>& bits,
                                              uint32_t table_size) {
  const uint64_t cs = g_.cluster_size;
  std::vector<uint8_t> table(uint64_t{table_size} * 8, 0);
  for (uint64_t j = 0; j < table_size; ++j) {
    const auto first = bits.begin() + j * cs;
    // An all-zero cluster needs no data: its table entry stays 0.
    if (std::all_of(first, first + cs, [](uint8_t v) { return v == 0; }))
      continue;
    QCOW2REF_ASSIGN_OR_RETURN(uint64_t at, Allocate(1));
    QCOW2REF_RETURN_IF_ERROR(store_->WriteAt(at, &*first, cs));
    StoreBe64(table.data() + 8 * j, at);
  }
  const uint64_t clusters = std::max<uint64_t>(1, DivRoundUp(table.size(), cs));
  table.resize(clusters * cs, 0);
  QCOW2REF_ASSIGN_OR_RETURN(uint64_t at, Allocate(clusters));
  QCOW2REF_RETURN_IF_ERROR(store_->WriteAt(at, table.data(), table.size()));
  return at;
}

Status ImageWriter::FreeBitmapTable(
    const BitmapEntry& b, std::vector<std::pair<uint64_t, uint64_t>>* frees) {
  const uint64_t cs = g_.cluster_size;
  std::vector<uint8_t> table(uint64_t{b.table_size} * 8);
  QCOW2REF_RETURN_IF_ERROR(
      store_->ReadAt(b.table_offset, table.data(), table.size()));
  for (uint64_t j = 0; j < b.table_size; ++j) {
    const uint64_t at = LoadBe64(table.data() + 8 * j) & kTableOffsetMask;
    if (at != 0) frees->push_back({at, cs});
  }
  frees->push_back({b.table_offset,
                    std::max<uint64_t>(1, DivRoundUp(table.size(), cs)) * cs});
  return OkStatus();
}

Status ImageWriter::RewriteHeaderCluster(const uint8_t* bitmaps_ext,
                                         bool autoclear_bit) {
  const uint64_t cs = g_.cluster_size;
  std::vector<uint8_t> c0(cs);
  QCOW2REF_RETURN_IF_ERROR(store_->ReadAtZeroFilled(0, c0.data(), c0.size()));
  const uint64_t first = header_.header_length;
  const ExtensionWalk w = WalkExtensions(c0, first);
  if (w.end_marker == 0) {
    return Unsupported("QX.WRITE.bitmap_edit_order", first,
                       "the header extension list has no end marker in the "
                       "first cluster: it cannot be rewritten");
  }
  // The new extension area: every record kept byte for byte, the bitmaps
  // record replaced (or appended, or dropped), then the end marker.
  std::vector<uint8_t> area;
  bool placed = false;
  auto put_bitmaps = [&] {
    uint8_t rec[kExtensionDataStart + kBitmapsExtensionSize];
    StoreField(rec, ExtensionField::kType, kExtBitmaps);
    StoreField(rec, ExtensionField::kLength, kBitmapsExtensionSize);
    std::memcpy(rec + kExtensionDataStart, bitmaps_ext, kBitmapsExtensionSize);
    area.insert(area.end(), rec, rec + sizeof(rec));
    placed = true;
  };
  for (uint64_t at = first; at < w.end_marker;) {
    const uint64_t next =
        at + kExtensionDataStart +
        DivRoundUp(LoadField(c0.data() + at, ExtensionField::kLength), 8) * 8;
    if (at == w.bitmaps) {
      if (bitmaps_ext != nullptr) put_bitmaps();
    } else {
      area.insert(area.end(), c0.begin() + at, c0.begin() + next);
    }
    at = next;
  }
  if (bitmaps_ext != nullptr && !placed) put_bitmaps();
  area.insert(area.end(), kExtensionDataStart, 0);  // The end marker.
  const uint64_t old_end = w.end_marker + kExtensionDataStart;
  const int64_t delta =
      static_cast<int64_t>(first + area.size()) - static_cast<int64_t>(old_end);
  // What follows the extensions (the backing file name) moves with them.
  std::vector<uint8_t> out(c0.begin(), c0.begin() + first);
  out.insert(out.end(), area.begin(), area.end());
  out.insert(out.end(), c0.begin() + old_end, c0.end());
  if (out.size() > cs) {
    if (std::any_of(out.begin() + cs, out.end(),
                    [](uint8_t v) { return v != 0; })) {
      // SPEC(QX.WRITE.bitmap_edit_order)
      return Unsupported("QX.WRITE.bitmap_edit_order", kHeaderStart,
                         "the header, its extensions and the backing file "
                         "name would not fit in the first cluster");
    }
    out.resize(cs);
  }
  out.resize(cs, 0);
  Header h = header_;
  if (h.backing_file_offset != 0) {
    if (h.backing_file_offset < old_end) {
      return Unsupported("QX.WRITE.bitmap_edit_order",
                         HeaderField::kBackingFileOffset.offset,
                         "the backing file name lies inside the extension "
                         "area: the header cannot be rewritten");
    }
    h.backing_file_offset = h.backing_file_offset + delta;
    StoreField(out.data(), HeaderField::kBackingFileOffset,
               h.backing_file_offset);
  }
  if (autoclear_bit) {
    h.autoclear_features |= kAutoclearBitmaps;
  } else {
    h.autoclear_features &= ~kAutoclearBitmaps;
  }
  StoreField(out.data(), HeaderField::kAutoclearFeatures, h.autoclear_features);
  // SPEC(QX.WRITE.bitmap_edit_order): the header cluster in one write, as
  // QEMU rewrites it; everything it names is already durable.
  QCOW2REF_RETURN_IF_ERROR(store_->WriteAt(0, out.data(), out.size()));
  QCOW2REF_RETURN_IF_ERROR(store_->Flush());
  header_ = h;
  return OkStatus();
}

Status ImageWriter::CommitBitmapDir(
    const BitmapDir& old, std::vector<std::vector<uint8_t>> raw,
    std::vector<std::pair<uint64_t, uint64_t>> frees) {
  const uint64_t cs = g_.cluster_size;
  // SPEC(QX.WRITE.bitmap_edit_order): new data and tables are durable
  // before a directory names them, the directory before the header does.
  QCOW2REF_RETURN_IF_ERROR(store_->Flush());
  if (raw.empty()) {
    // SPEC(Q2.BMX.nb_bitmaps): no extension may say 0 bitmaps; the last
    // one removed takes the extension and autoclear bit 0 with it.
    QCOW2REF_RETURN_IF_ERROR(RewriteHeaderCluster(nullptr, false));
  } else {
    std::vector<uint8_t> dir;
    for (const auto& r : raw) dir.insert(dir.end(), r.begin(), r.end());
    const uint64_t clusters = DivRoundUp(dir.size(), cs);
    std::vector<uint8_t> padded = dir;
    padded.resize(clusters * cs, 0);
    QCOW2REF_ASSIGN_OR_RETURN(uint64_t at, Allocate(clusters));
    QCOW2REF_RETURN_IF_ERROR(store_->WriteAt(at, padded.data(), padded.size()));
    QCOW2REF_RETURN_IF_ERROR(store_->Flush());
    if (old.valid && old.entries.size() == raw.size() &&
        old.size == dir.size()) {
      // Same count and size: only the directory pointer changes, in one
      // 8-byte write.
      std::vector<uint8_t> c0(cs);
      QCOW2REF_RETURN_IF_ERROR(
          store_->ReadAtZeroFilled(0, c0.data(), c0.size()));
      const ExtensionWalk w = WalkExtensions(c0, header_.header_length);
      constexpr Field kField = BmxF::kDirectoryOffset;
      uint8_t field[kField.width];
      StoreField(field, Alone(kField), at);
      QCOW2REF_RETURN_IF_ERROR(
          store_->WriteAt(w.bitmaps + kExtensionDataStart + kField.offset,
                          field, sizeof(field)));
      QCOW2REF_RETURN_IF_ERROR(store_->Flush());
    } else {
      // SPEC(Q2.BMX.autoclear_bit): the first bitmap adds the extension and
      // sets autoclear bit 0 in the same header write.
      uint8_t ext[kBitmapsExtensionSize] = {};
      StoreField(ext, BmxF::kNbBitmaps, raw.size());
      StoreField(ext, BmxF::kDirectorySize, dir.size());
      StoreField(ext, BmxF::kDirectoryOffset, at);
      QCOW2REF_RETURN_IF_ERROR(RewriteHeaderCluster(ext, true));
    }
  }
  // Only now is anything the old directory named freed.
  if (old.valid) {
    frees.push_back({old.offset, DivRoundUp(old.size, cs) * cs});
  }
  for (const auto& [off, bytes] : frees) {
    for (uint64_t c = off >> g_.cluster_bits;
         c <= (off + bytes - 1) >> g_.cluster_bits; ++c) {
      QCOW2REF_ASSIGN_OR_RETURN(uint64_t rc, Refcount(c));
      if (rc > 0) QCOW2REF_RETURN_IF_ERROR(SetRefcount(c, rc - 1));
    }
  }
  QCOW2REF_RETURN_IF_ERROR(store_->Flush());
  QCOW2REF_ASSIGN_OR_RETURN(BitmapDir now, ReadBitmapDir());
  return TrackBitmaps(now.entries);
}

Status ImageWriter::TrackBitmaps(const std::vector<BitmapEntry>& all) {
  tracked_.clear();
  inconsistent_bitmap_.clear();
  dirty_.clear();
  bitmaps_in_use_ = false;
  for (const BitmapEntry& b : all) {
    if ((b.flags & kBitmapFlagAuto) == 0) continue;
    if (b.flags & kBitmapFlagInUse) {
      inconsistent_bitmap_ = b.name;
      continue;
    }
    tracked_.push_back(b);
  }
  if (tracked_.empty()) return OkStatus();
  std::vector<uint8_t> c0(g_.cluster_size);
  QCOW2REF_RETURN_IF_ERROR(store_->ReadAtZeroFilled(0, c0.data(), c0.size()));
  const ExtensionWalk w = WalkExtensions(c0, header_.header_length);
  const uint8_t* ext = c0.data() + w.bitmaps + kExtensionDataStart;
  bitmap_directory_offset_ = LoadField(ext, BmxF::kDirectoryOffset);
  bitmap_directory_size_ = LoadField(ext, BmxF::kDirectorySize);
  bitmap_directory_field_ =
      w.bitmaps + kExtensionDataStart + BmxF::kDirectoryOffset.offset;
  return OkStatus();
}

Status ImageWriter::BitmapAdd(const std::string& name, uint64_t granularity,
                              bool disabled) {
  // SPEC(QX.WRITE.bitmap_add): qemu-img's checks, before anything is
  // written.
  if (header_.version < 3) {
    return Unsupported("QX.WRITE.bitmap_add", HeaderField::kVersion.offset,
                       "persistent bitmaps need a version 3 image");
  }
  // SPEC(Q2.BM.name_size)
  if (name.empty() || name.size() > kMaxBitmapNameSize) {
    return UsageError("Q2.BM.name_size", "a bitmap name is 1 to 1023 bytes");
  }
  if (granularity == 0) {
    granularity =
        std::clamp<uint64_t>(g_.cluster_size, uint64_t{4096}, uint64_t{65536});
  }
  // SPEC(Q2.BM.granularity)
  if (granularity < 512 || granularity > (uint64_t{1} << 31) ||
      (granularity & (granularity - 1)) != 0) {
    return UsageError(
        "Q2.BM.granularity",
        "the granularity must be a power of two from 512 to 2 GiB");
  }
  QCOW2REF_ASSIGN_OR_RETURN(BitmapDir dir, ReadBitmapDir());
  // SPEC(QX.WRITE.bitmap_names): unique names.
  if (FindByName(dir.entries, name) >= 0) {
    return Rejected("QX.WRITE.bitmap_names", std::nullopt,
                    "a persistent bitmap named '" + name + "' exists");
  }
  // SPEC(QX.LIMIT.bitmap_count)
  if (dir.entries.size() >= kMaxBitmaps) {
    return Unsupported("QX.LIMIT.bitmap_count", std::nullopt,
                       "the image already holds 65535 bitmaps");
  }
  int bits = 0;
  while ((uint64_t{1} << bits) < granularity) ++bits;
  const uint64_t cs = g_.cluster_size;
  const uint64_t table_size =
      BitmapTableEntries(header_, static_cast<uint32_t>(bits));
  if (table_size > kMaxBitmapTableEntries) {
    return Unsupported("QX.LIMIT.bitmap_count", std::nullopt,
                       "the bitmap table would exceed 0x8000000 entries: "
                       "use a larger granularity");
  }
  const uint64_t entry_bytes =
      DivRoundUp(kBitmapFixedSize + name.size(), 8) * 8;
  if (dir.size + entry_bytes > kMaxBitmapDirectoryBytes) {
    return Unsupported("Q2.BMX.directory_size.max", std::nullopt,
                       "the bitmap directory would exceed its limit");
  }
  // A new bitmap is empty: a table of zero entries, no data.
  QCOW2REF_ASSIGN_OR_RETURN(
      uint64_t table, WriteBitmapBits(std::vector<uint8_t>(table_size * cs, 0),
                                      static_cast<uint32_t>(table_size)));
  std::vector<uint8_t> e(entry_bytes, 0);
  StoreField(e.data(), BitmapField::kTableOffset, table);
  StoreField(e.data(), BitmapField::kTableSize, table_size);
  StoreField(e.data(), BitmapField::kFlags, disabled ? 0 : kBitmapFlagAuto);
  StoreField(e.data(), BitmapField::kType, 1);  // Q2.BM.type: dirty tracking.
  StoreField(e.data(), BitmapField::kGranularityBits, bits);
  StoreField(e.data(), BitmapField::kNameSize, name.size());
  std::memcpy(e.data() + kBitmapFixedSize, name.data(), name.size());
  std::vector<std::vector<uint8_t>> raw = dir.raw;
  raw.push_back(std::move(e));
  return CommitBitmapDir(dir, std::move(raw), {});
}

Status ImageWriter::BitmapRemove(const std::string& name) {
  QCOW2REF_ASSIGN_OR_RETURN(BitmapDir dir, ReadBitmapDir());
  const int i = FindByName(dir.entries, name);
  if (i < 0) return NotFound(name);
  std::vector<std::pair<uint64_t, uint64_t>> frees;
  QCOW2REF_RETURN_IF_ERROR(FreeBitmapTable(dir.entries[i], &frees));
  std::vector<std::vector<uint8_t>> raw = dir.raw;
  raw.erase(raw.begin() + i);
  return CommitBitmapDir(dir, std::move(raw), std::move(frees));
}

Status ImageWriter::BitmapClear(const std::string& name) {
  QCOW2REF_ASSIGN_OR_RETURN(BitmapDir dir, ReadBitmapDir());
  const int i = FindByName(dir.entries, name);
  if (i < 0) return NotFound(name);
  const BitmapEntry& b = dir.entries[i];
  QCOW2REF_RETURN_IF_ERROR(RefuseInUse(b));
  std::vector<std::pair<uint64_t, uint64_t>> frees;
  QCOW2REF_RETURN_IF_ERROR(FreeBitmapTable(b, &frees));
  // SPEC(QX.WRITE.bitmap_clear_merge): a new table of zero entries.
  QCOW2REF_ASSIGN_OR_RETURN(
      uint64_t table,
      WriteBitmapBits(
          std::vector<uint8_t>(uint64_t{b.table_size} * g_.cluster_size, 0),
          b.table_size));
  std::vector<std::vector<uint8_t>> raw = dir.raw;
  StoreField(raw[i].data(), BitmapField::kTableOffset, table);
  return CommitBitmapDir(dir, std::move(raw), std::move(frees));
}

Status ImageWriter::BitmapSetEnabled(const std::string& name, bool enabled) {
  QCOW2REF_ASSIGN_OR_RETURN(BitmapDir dir, ReadBitmapDir());
  const int i = FindByName(dir.entries, name);
  if (i < 0) return NotFound(name);
  const BitmapEntry& b = dir.entries[i];
  QCOW2REF_RETURN_IF_ERROR(RefuseInUse(b));
  // SPEC(QX.WRITE.bitmap_add): enabled means the auto flag; nothing to do
  // when it already has the wanted state, as with qemu-img.
  const uint32_t flags =
      enabled ? (b.flags | kBitmapFlagAuto) : (b.flags & ~kBitmapFlagAuto);
  if (flags == b.flags) return OkStatus();
  std::vector<std::vector<uint8_t>> raw = dir.raw;
  StoreField(raw[i].data(), BitmapField::kFlags, flags);
  return CommitBitmapDir(dir, std::move(raw), {});
}

Status ImageWriter::BitmapMerge(const std::string& source,
                                const std::string& target) {
  QCOW2REF_ASSIGN_OR_RETURN(BitmapDir dir, ReadBitmapDir());
  const int s = FindByName(dir.entries, source);
  if (s < 0) return NotFound(source);
  const int t = FindByName(dir.entries, target);
  if (t < 0) return NotFound(target);
  const BitmapEntry& from = dir.entries[s];
  const BitmapEntry& to = dir.entries[t];
  QCOW2REF_RETURN_IF_ERROR(RefuseInUse(from));
  QCOW2REF_RETURN_IF_ERROR(RefuseInUse(to));
  QCOW2REF_ASSIGN_OR_RETURN(std::vector<uint8_t> src, ReadBitmapBits(from));
  QCOW2REF_ASSIGN_OR_RETURN(std::vector<uint8_t> dst, ReadBitmapBits(to));
  const std::vector<uint8_t> before = dst;
  // SPEC(QX.WRITE.bitmap_clear_merge): every granule of the target that
  // overlaps a dirty granule of the source becomes dirty (a disabled
  // target included, as qemu-img merges into it).
  const uint64_t gs = uint64_t{1} << from.granularity_bits;
  const uint64_t gt = uint64_t{1} << to.granularity_bits;
  const uint64_t size = header_.size;
  const uint64_t src_bits = DivRoundUp(size, gs);
  const uint64_t dst_bits = DivRoundUp(size, gt);
  for (uint64_t k = 0; k < src_bits && k / 8 < src.size(); ++k) {
    if (src[k / 8] == 0) {
      k |= 7;
      continue;
    }
    if ((src[k / 8] & (1u << (k % 8))) == 0) continue;
    const uint64_t start = k * gs;
    const uint64_t end = std::min(size, start + gs);
    for (uint64_t m = start / gt; m <= (end - 1) / gt && m < dst_bits; ++m) {
      if (m / 8 < dst.size()) dst[m / 8] |= static_cast<uint8_t>(1u << (m % 8));
    }
  }
  if (dst == before) return OkStatus();
  std::vector<std::pair<uint64_t, uint64_t>> frees;
  QCOW2REF_RETURN_IF_ERROR(FreeBitmapTable(to, &frees));
  QCOW2REF_ASSIGN_OR_RETURN(uint64_t table,
                            WriteBitmapBits(dst, to.table_size));
  std::vector<std::vector<uint8_t>> raw = dir.raw;
  StoreField(raw[t].data(), BitmapField::kTableOffset, table);
  return CommitBitmapDir(dir, std::move(raw), std::move(frees));
}

}  // namespace qcow2ref
