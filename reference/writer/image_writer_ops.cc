// ImageWriter's guest operations: each batch of clusters is written in
// three ordered stages (QX.WRITE.order_data_before_pointer,
// QX.WRITE.order_decrement_after_pointer).
#include <algorithm>
#include <cstring>
#include <future>
#include <system_error>

#include "reference/format/cluster_entries.h"
#include "reference/format/compression.h"
#include "reference/status/checked_math.h"
#include "reference/status/endian.h"
#include "reference/writer/image_writer.h"

namespace qcow2ref {
namespace {

constexpr uint64_t kAllocated32 = 0x00000000ffffffffull;
constexpr uint64_t kZero32 = 0xffffffff00000000ull;
constexpr uint64_t kBatchClusters = 256;

// Compresses every cluster of `contents` (CompressCluster: empty when it
// does not shrink), the odd ones on a second thread when one can start.
std::vector<std::vector<uint8_t>> CompressAll(
    uint8_t type, const std::vector<std::vector<uint8_t>>& contents,
    uint64_t cluster_size) {
  std::vector<std::vector<uint8_t>> out(contents.size());
  auto run = [&](size_t from, size_t step) {
    for (size_t i = from; i < contents.size(); i += step) {
      out[i] = CompressCluster(type, contents[i].data(), cluster_size);
    }
  };
  if (contents.size() < 2) {
    run(0, 1);
    return out;
  }
  std::future<void> odd;
  try {
    odd = std::async(std::launch::async, run, 1, 2);
  } catch (const std::system_error&) {
    run(0, 1);  // No second thread: all on this one.
    return out;
  }
  run(0, 2);
  odd.get();
  return out;
}

struct PointerUpdate {
  uint64_t table;  // L2 table offset
  uint64_t index;
  uint64_t entry;
  uint64_t bitmap;
};

}  // namespace

Status ImageWriter::WriteClusters(
    uint64_t first, uint64_t count,
    const std::vector<std::vector<uint8_t>>& contents, bool compress,
    bool zero) {
  const uint64_t cs = g_.cluster_size;
  std::vector<PointerUpdate> pointers;
  std::map<uint64_t, uint64_t> new_tables;  // L1 index -> new table offset
  std::vector<std::pair<uint64_t, uint64_t>> frees;  // (offset, bytes)
  std::map<uint64_t, uint64_t> l1_updates;           // L1 index -> entry
  std::map<uint64_t, std::vector<uint8_t>> fresh;    // new L2 tables
  // Compressed forms of the batch, made on both cores before anything is
  // placed (placement and ordering stay sequential below).
  std::vector<std::vector<uint8_t>> packed_all;
  if (compress && !zero) {
    packed_all = CompressAll(header_.compression_type, contents, cs);
  }

  for (uint64_t i = 0; i < count; ++i) {
    const uint64_t gc = first + i;
    const uint64_t guest = gc * cs;
    const uint64_t l1i = gc / g_.l2_entries;
    const uint64_t l2i = gc % g_.l2_entries;
    uint64_t table = L1EntryL2Offset(l1_[l1i]);
    bool fresh_table = false;
    auto nt = new_tables.find(l1i);
    if (nt != new_tables.end()) {
      table = nt->second;
      fresh_table = true;
    } else if (table == 0) {
      QCOW2REF_ASSIGN_OR_RETURN(table, Allocate(1));
      fresh[table] = std::vector<uint8_t>(cs, 0);
      new_tables[l1i] = table;
      fresh_table = true;
    } else {
      QCOW2REF_ASSIGN_OR_RETURN(uint64_t trc,
                                Refcount(table >> g_.cluster_bits));
      if (trc > 1) {
        // SPEC(QX.WRITE.cow_l2): an L2 table shared with a snapshot is
        // copied before it changes; the old table loses one reference after
        // the switch, and the clusters it maps keep their counts.
        QCOW2REF_ASSIGN_OR_RETURN(std::vector<uint8_t> * old, L2Table(table));
        std::vector<uint8_t> copy = *old;
        ClearCopiedFlags(&copy);
        QCOW2REF_ASSIGN_OR_RETURN(uint64_t moved, Allocate(1));
        frees.push_back({table, cs});
        fresh[moved] = std::move(copy);
        new_tables[l1i] = moved;
        table = moved;
        fresh_table = true;
      }
    }
    std::vector<uint8_t>* t = nullptr;
    if (fresh_table) {
      t = &fresh[table];
    } else {
      QCOW2REF_ASSIGN_OR_RETURN(t, L2Table(table));
    }
    const uint64_t old_entry = L2EntryAt(*t, l2i);
    const uint64_t old_bitmap = L2BitmapAt(*t, l2i);
    QCOW2REF_ASSIGN_OR_RETURN(ClusterDescriptor d,
                              DecodeL2Entry(g_, header_, old_entry, old_bitmap,
                                            table + l2i * g_.l2_entry_bytes));
    const bool owns = d.kind != ClusterKind::kCompressed &&
                      !header_.has_data_file() && d.host_offset != 0;
    uint64_t entry = 0, bitmap = 0;
    bool release_old = false;
    const std::vector<uint8_t>& content = contents[i];

    // Zeros through metadata: a zero flag (v3) or, in v2 without a backing
    // file, an unallocated entry. Otherwise zeros are written as data.
    const bool zero_by_metadata = zero && !header_.has_data_file() &&
                                  (header_.version >= 3 || !below_.name);
    if (zero_by_metadata) {
      // SPEC(Q2.MAP.zero_flag)
      if (header_.version >= 3) {
        if (g_.extended_l2) {
          bitmap = kZero32;
        } else {
          entry = kL2ZeroFlag;
        }
      }
      release_old = owns || d.kind == ClusterKind::kCompressed;
    } else if (compress && !zero) {
      std::vector<uint8_t> packed = std::move(packed_all[i]);
      if (!packed.empty()) {
        const uint64_t used = packed.size();
        QCOW2REF_ASSIGN_OR_RETURN(uint64_t at, PlaceCompressed(used));
        // The last sector is completed with zeros; the next compressed
        // cluster may start right after `used` and overwrite them.
        packed.resize(DivRoundUp(at + used, 512) * 512 - at, 0);
        QCOW2REF_RETURN_IF_ERROR(
            store_->WriteAt(at, packed.data(), packed.size()));
        // SPEC(Q2.CMP.descriptor): additional sectors after the first one
        // the data starts in.
        const CompressedLayout c = CompressedLayoutFor(g_.cluster_bits);
        const uint64_t extra = ((at + used - 1) >> 9) - (at >> 9);
        entry = kL2Compressed | (extra << c.offset_bits) | at;
        release_old = owns || d.kind == ClusterKind::kCompressed;
      }
    }
    if (!zero_by_metadata && entry == 0) {
      // Plain data (or zeros written as data).
      std::vector<uint8_t> buf = content;
      if (header_.has_data_file()) {
        // SPEC(Q2.XDF.host_equals_guest)
        // The data file holds the guest disk byte for byte: the last
        // cluster stops at the virtual size (a sector multiple), as QEMU's
        // does, so a raw data file is exactly the disk.
        const uint64_t n = std::min(cs, header_.size - guest);
        QCOW2REF_RETURN_IF_ERROR(EncryptFor(guest, guest, buf.data(), n));
        QCOW2REF_RETURN_IF_ERROR(data_file_->WriteAt(guest, buf.data(), n));
        entry = kEntryCopied | guest;
      } else {
        uint64_t host = 0;
        if (owns) {
          QCOW2REF_ASSIGN_OR_RETURN(uint64_t rc,
                                    Refcount(d.host_offset >> g_.cluster_bits));
          if (rc == 1) host = d.host_offset;
        }
        if (host == 0) {
          QCOW2REF_ASSIGN_OR_RETURN(host, Allocate(1));
          release_old = owns || d.kind == ClusterKind::kCompressed;
        }
        QCOW2REF_RETURN_IF_ERROR(EncryptFor(guest, host, buf.data(), cs));
        QCOW2REF_RETURN_IF_ERROR(store_->WriteAt(host, buf.data(), cs));
        entry = kEntryCopied | host;
      }
      if (g_.extended_l2) bitmap = kAllocated32;
    }
    if (release_old) {
      if (d.kind == ClusterKind::kCompressed) {
        frees.push_back({d.compressed_offset, d.compressed_bytes});
      } else {
        frees.push_back({d.host_offset, cs});
      }
    }
    if (fresh_table) {
      StoreBe64(t->data() + l2i * g_.l2_entry_bytes, entry);
      if (g_.extended_l2)
        StoreBe64(t->data() + l2i * g_.l2_entry_bytes + 8, bitmap);
    } else if (entry != old_entry || bitmap != old_bitmap) {
      pointers.push_back({table, l2i, entry, bitmap});
    }
  }
  // Stage A done (data, increments). New tables are complete: write them.
  for (const auto& [l1i, table] : new_tables) {
    const std::vector<uint8_t>& t = fresh[table];
    QCOW2REF_RETURN_IF_ERROR(store_->WriteAt(table, t.data(), t.size()));
    l1_updates[l1i] = kEntryCopied | table;
    l2_cache_[table] = t;
  }
  // SPEC(QX.WRITE.order_data_before_pointer)
  if (!pointers.empty() || !l1_updates.empty()) {
    QCOW2REF_RETURN_IF_ERROR(store_->Flush());
    if (data_file_) QCOW2REF_RETURN_IF_ERROR(data_file_->Flush());
  }
  // Stage B: pointers.
  for (const PointerUpdate& p : pointers) {
    QCOW2REF_ASSIGN_OR_RETURN(std::vector<uint8_t> * t, L2Table(p.table));
    uint8_t* at = t->data() + p.index * g_.l2_entry_bytes;
    StoreBe64(at, p.entry);
    if (g_.extended_l2) StoreBe64(at + 8, p.bitmap);
    QCOW2REF_RETURN_IF_ERROR(store_->WriteAt(
        p.table + p.index * g_.l2_entry_bytes, at, g_.l2_entry_bytes));
  }
  for (const auto& [l1i, e] : l1_updates) {
    l1_[l1i] = e;
    uint8_t b[8];
    StoreBe64(b, e);
    QCOW2REF_RETURN_IF_ERROR(
        store_->WriteAt(header_.l1_table_offset + 8 * l1i, b, 8));
  }
  // Stage C: decrements only once the pointers are durable.
  if (!frees.empty()) {
    // SPEC(QX.WRITE.order_decrement_after_pointer)
    QCOW2REF_RETURN_IF_ERROR(store_->Flush());
    for (const auto& [off, bytes] : frees) {
      const uint64_t firstc = off >> g_.cluster_bits;
      const uint64_t lastc = (off + bytes - 1) >> g_.cluster_bits;
      for (uint64_t c = firstc; c <= lastc; ++c) {
        QCOW2REF_ASSIGN_OR_RETURN(uint64_t rc, Refcount(c));
        if (rc > 0) QCOW2REF_RETURN_IF_ERROR(SetRefcount(c, rc - 1));
      }
    }
  }
  return OkStatus();
}

void ImageWriter::ClearCopiedFlags(std::vector<uint8_t>* table) const {
  // The clusters a shared table maps are already counted once per L1
  // reference to it: the copy takes over one of those references, so no
  // count changes; only COPIED goes, since the clusters stay shared.
  for (uint64_t i = 0; i < g_.l2_entries; ++i) {
    uint8_t* p = table->data() + i * g_.l2_entry_bytes;
    const uint64_t entry = LoadBe64(p);
    if (entry != 0 && !(entry & kL2Compressed)) {
      StoreBe64(p, entry & ~kEntryCopied);
    }
  }
}

namespace {

// `size` is the guest-visible size: whole sectors only
// (Q2.HDR.size.sector_multiple).
Status CheckRange(uint64_t offset, uint64_t length, uint64_t size) {
  if (!RangeWithin(offset, length, size)) {
    return UsageError("range [" + std::to_string(offset) + ", +" +
                      std::to_string(length) + ") goes past the virtual size " +
                      std::to_string(size));
  }
  return OkStatus();
}

}  // namespace

Status ImageWriter::Write(uint64_t offset, const uint8_t* data,
                          uint64_t length) {
  QCOW2REF_RETURN_IF_ERROR(CheckGuestDataMayChange());
  QCOW2REF_RETURN_IF_ERROR(CheckRange(offset, length, GuestSize(header_)));
  QCOW2REF_RETURN_IF_ERROR(MarkDirty(offset, length));
  const uint64_t cs = g_.cluster_size;
  uint64_t pos = offset;
  while (pos < offset + length) {
    const uint64_t first = pos / cs;
    std::vector<std::vector<uint8_t>> contents;
    uint64_t count = 0;
    while (pos < offset + length && count < kBatchClusters) {
      const uint64_t gc = pos / cs;
      const uint64_t in = pos - gc * cs;
      const uint64_t n = std::min(offset + length - pos, cs - in);
      std::vector<uint8_t> c(cs, 0);
      if (n != cs) QCOW2REF_RETURN_IF_ERROR(ReadCluster(gc, c.data()));
      std::memcpy(c.data() + in, data + (pos - offset), n);
      contents.push_back(std::move(c));
      ++count;
      pos += n;
    }
    QCOW2REF_RETURN_IF_ERROR(
        WriteClusters(first, count, contents, false, false));
  }
  return OkStatus();
}

Status ImageWriter::WriteZeroes(uint64_t offset, uint64_t length) {
  QCOW2REF_RETURN_IF_ERROR(CheckGuestDataMayChange());
  QCOW2REF_RETURN_IF_ERROR(CheckRange(offset, length, GuestSize(header_)));
  QCOW2REF_RETURN_IF_ERROR(MarkDirty(offset, length));
  const uint64_t cs = g_.cluster_size;
  uint64_t pos = offset;
  while (pos < offset + length) {
    const uint64_t gc = pos / cs;
    const uint64_t in = pos - gc * cs;
    const uint64_t n = std::min(offset + length - pos, cs - in);
    const bool whole = n == cs || (in == 0 && pos + n == header_.size);
    if (!whole) {
      std::vector<uint8_t> zeros(n, 0);
      QCOW2REF_RETURN_IF_ERROR(Write(pos, zeros.data(), n));
      pos += n;
      continue;
    }
    // A run of whole clusters, one ordered batch (and its barriers) per at
    // most 16 MiB of clusters.
    const uint64_t end_whole = offset + length == header_.size
                                   ? header_.size
                                   : (offset + length) / cs * cs;
    const uint64_t batch = std::max<uint64_t>(
        1, std::min<uint64_t>(kBatchClusters, (16ull << 20) / cs));
    const uint64_t count =
        std::min<uint64_t>(batch, DivRoundUp(end_whole - pos, cs));
    std::vector<std::vector<uint8_t>> contents(count,
                                               std::vector<uint8_t>(cs, 0));
    QCOW2REF_RETURN_IF_ERROR(WriteClusters(gc, count, contents, false, true));
    pos = std::min(pos + count * cs, header_.size);
  }
  return OkStatus();
}

Status ImageWriter::Discard(uint64_t offset, uint64_t length) {
  // SPEC(QX.WRITE.discard): discarded ranges read as zeros.
  return WriteZeroes(offset, length);
}

Status ImageWriter::CheckWrite(uint64_t offset, uint64_t length,
                               bool compressed) const {
  QCOW2REF_RETURN_IF_ERROR(CheckGuestDataMayChange());
  QCOW2REF_RETURN_IF_ERROR(CheckRange(offset, length, GuestSize(header_)));
  if (!compressed) return OkStatus();
  const uint64_t cs = g_.cluster_size;
  // SPEC(QX.WRITE.no_compressed_encryption): QEMU's driver would store them
  // in plaintext; we refuse.
  if (header_.crypt_method != CryptMethod::kNone) {
    return UsageError(
        "QX.WRITE.no_compressed_encryption",
        "compressed writes into an encrypted image would be stored "
        "in plaintext: refused");
  }
  // SPEC(Q2.CMP.not_with_xdf)
  if (header_.has_data_file()) {
    return UsageError("Q2.CMP.not_with_xdf",
                      "images with an external data file have no compressed "
                      "clusters");
  }
  if (offset % cs != 0 ||
      (length % cs != 0 && offset + length != GuestSize(header_))) {
    return UsageError("compressed writes must cover whole clusters");
  }
  return OkStatus();
}

Status ImageWriter::WriteCompressed(uint64_t offset, const uint8_t* data,
                                    uint64_t length) {
  QCOW2REF_RETURN_IF_ERROR(CheckWrite(offset, length, true));
  QCOW2REF_RETURN_IF_ERROR(MarkDirty(offset, length));
  const uint64_t cs = g_.cluster_size;
  // Batches of clusters, one ordered write (and its barriers) each.
  for (uint64_t pos = offset; pos < offset + length;) {
    std::vector<std::vector<uint8_t>> contents;
    const uint64_t first = pos / cs;
    while (pos < offset + length && contents.size() < kBatchClusters) {
      std::vector<uint8_t> c(cs, 0);
      const uint64_t n = std::min(cs, offset + length - pos);
      std::memcpy(c.data(), data + (pos - offset), n);
      contents.push_back(std::move(c));
      pos += n;
    }
    QCOW2REF_RETURN_IF_ERROR(
        WriteClusters(first, contents.size(), contents, true, false));
  }
  return OkStatus();
}

Status ImageWriter::Flush() {
  if (data_file_) QCOW2REF_RETURN_IF_ERROR(data_file_->Flush());
  QCOW2REF_RETURN_IF_ERROR(store_->Flush());
  // Acknowledged writes are in the bitmaps too (QX.WRITE.bitmaps_kept).
  return StoreBitmaps();
}

}  // namespace qcow2ref
