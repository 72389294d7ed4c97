// ImageWriter's internal snapshots: create, delete, apply.
#include <ctime>
#include <functional>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "reference/format/cluster_entries.h"
#include "reference/format/header_fields.h"
#include "reference/format/limits.h"
#include "reference/format/snapshot_fields.h"
#include "reference/status/checked_math.h"
#include "reference/status/endian.h"
#include "reference/writer/image_writer.h"

namespace qcow2ref {
namespace {

const Snapshot* Find(const std::vector<Snapshot>& all, const std::string& key) {
  for (const Snapshot& s : all) {
    if (s.name == key) return &s;
  }
  for (const Snapshot& s : all) {
    if (s.id == key) return &s;
  }
  return nullptr;
}

}  // namespace

Status ImageWriter::ForEachReference(
    const std::vector<uint64_t>& l1,
    const std::function<Status(uint64_t cluster, uint64_t count)>& visit) {
  // SPEC(QX.LIMIT.snapshot_distinct_tables): each distinct L2 table is read
  // and walked once, its references counted once per L1 entry naming it;
  // tables are visited in the order of their first L1 entry.
  std::unordered_map<uint64_t, uint64_t> names;
  for (uint64_t e : l1) {
    const uint64_t table = L1EntryL2Offset(e);
    if (table != 0) ++names[table];
  }
  std::vector<uint8_t> t(g_.cluster_size);
  for (uint64_t e : l1) {
    const uint64_t table = L1EntryL2Offset(e);
    if (table == 0) continue;
    auto it = names.find(table);
    if (it == names.end()) continue;  // Walked already.
    const uint64_t n = it->second;
    names.erase(it);
    // SPEC(Q2.SNAP.refcounts): one reference per L1 entry to its L2 table,
    // and one per L2 entry to its cluster, as QEMU counts them.
    QCOW2REF_RETURN_IF_ERROR(
        store_->ReadAtZeroFilled(table, t.data(), t.size()));
    for (uint64_t i = 0; i < g_.l2_entries; ++i) {
      const uint64_t entry = L2EntryAt(t, i);
      if (entry == 0) continue;
      QCOW2REF_ASSIGN_OR_RETURN(
          ClusterDescriptor d,
          DecodeL2Entry(g_, header_, entry, L2BitmapAt(t, i), table));
      uint64_t first = 0, last = 0;
      if (d.kind == ClusterKind::kCompressed) {
        first = d.compressed_offset >> g_.cluster_bits;
        last =
            (d.compressed_offset + d.compressed_bytes - 1) >> g_.cluster_bits;
      } else if (d.host_offset != 0 && !header_.has_data_file()) {
        first = last = d.host_offset >> g_.cluster_bits;
      } else {
        continue;
      }
      for (uint64_t c = first; c <= last; ++c) {
        QCOW2REF_RETURN_IF_ERROR(visit(c, n));
      }
    }
    QCOW2REF_RETURN_IF_ERROR(visit(table >> g_.cluster_bits, n));
  }
  return OkStatus();
}

Status ImageWriter::AdjustL1References(const std::vector<uint64_t>& l1,
                                       int delta) {
  return ForEachReference(l1, [&](uint64_t c, uint64_t n) -> Status {
    QCOW2REF_ASSIGN_OR_RETURN(uint64_t rc, Refcount(c));
    // n steps of one, as n separate references would make them.
    return SetRefcount(c, delta > 0 ? rc + n : rc - n);
  });
}

Status ImageWriter::CheckReferencesFit(const std::vector<uint64_t>& l1) {
  // SPEC(Q2.RC.max_references): refused before anything is written, so a
  // refusal leaves no half-counted references, leaked L1 copy or cleared
  // COPIED bits behind.
  std::map<uint64_t, uint64_t> added;
  QCOW2REF_RETURN_IF_ERROR(
      ForEachReference(l1, [&](uint64_t c, uint64_t n) -> Status {
        uint64_t& sum = added[c];
        sum = n > UINT64_MAX - sum ? UINT64_MAX : sum + n;
        return OkStatus();
      }));
  const uint64_t max = header_.refcount_order >= 6
                           ? UINT64_MAX
                           : (uint64_t{1} << header_.refcount_bits()) - 1;
  for (const auto& [c, n] : added) {
    QCOW2REF_ASSIGN_OR_RETURN(uint64_t rc, Refcount(c));
    if (rc > max || n > max - rc) {
      return Unsupported("Q2.RC.max_references", c << g_.cluster_bits,
                         "the refcount would overflow the refcount width");
    }
  }
  return OkStatus();
}

Status ImageWriter::SetCopiedFlags(bool clear_all) {
  // SPEC(Q2.MAP.copied): COPIED exactly when the refcount is 1.
  l2_cache_.clear();
  // SPEC(QX.LIMIT.snapshot_distinct_tables): a table named again is not read
  // again (its first visit already wrote what a second one would).
  std::unordered_set<uint64_t> done;
  for (uint64_t i = 0; i < l1_.size(); ++i) {
    const uint64_t table = L1EntryL2Offset(l1_[i]);
    if (table == 0) continue;
    QCOW2REF_ASSIGN_OR_RETURN(uint64_t trc, Refcount(table >> g_.cluster_bits));
    if (!done.insert(table).second) {
      const uint64_t l1e = (!clear_all && trc == 1) ? (l1_[i] | kEntryCopied)
                                                    : (l1_[i] & ~kEntryCopied);
      if (l1e != l1_[i]) {
        l1_[i] = l1e;
        uint8_t b[8];
        StoreBe64(b, l1e);
        QCOW2REF_RETURN_IF_ERROR(
            store_->WriteAt(header_.l1_table_offset + 8 * i, b, 8));
      }
      continue;
    }
    std::vector<uint8_t> t(g_.cluster_size);
    QCOW2REF_RETURN_IF_ERROR(
        store_->ReadAtZeroFilled(table, t.data(), t.size()));
    bool changed = false;
    for (uint64_t j = 0; j < g_.l2_entries; ++j) {
      const uint64_t entry = L2EntryAt(t, j);
      if (entry == 0 || (entry & kL2Compressed)) continue;
      const uint64_t host = entry & kL2OffsetMask;
      bool copied = false;
      if (!clear_all && header_.has_data_file()) {
        copied = true;
      } else if (!clear_all && host != 0) {
        QCOW2REF_ASSIGN_OR_RETURN(uint64_t rc,
                                  Refcount(host >> g_.cluster_bits));
        copied = rc == 1;
      }
      const uint64_t updated =
          copied ? (entry | kEntryCopied) : (entry & ~kEntryCopied);
      if (updated != entry) {
        StoreBe64(t.data() + j * g_.l2_entry_bytes, updated);
        changed = true;
      }
    }
    // A shared table is not rewritten (its flags belong to no one view);
    // only tables the active view owns carry COPIED bits.
    if (changed && (trc == 1 || clear_all)) {
      QCOW2REF_RETURN_IF_ERROR(store_->WriteAt(table, t.data(), t.size()));
    }
    const uint64_t l1e = (!clear_all && trc == 1) ? (l1_[i] | kEntryCopied)
                                                  : (l1_[i] & ~kEntryCopied);
    if (l1e != l1_[i]) {
      l1_[i] = l1e;
      uint8_t b[8];
      StoreBe64(b, l1e);
      QCOW2REF_RETURN_IF_ERROR(
          store_->WriteAt(header_.l1_table_offset + 8 * i, b, 8));
    }
  }
  return store_->Flush();
}

Status ImageWriter::WriteSnapshotTable(std::vector<Snapshot> all) {
  const std::vector<uint8_t> bytes = SerializeSnapshotTable(all);
  uint64_t at = 0;
  if (!bytes.empty()) {
    QCOW2REF_ASSIGN_OR_RETURN(
        at, Allocate(DivRoundUp(bytes.size(), g_.cluster_size)));
    QCOW2REF_RETURN_IF_ERROR(store_->WriteAt(at, bytes.data(), bytes.size()));
    QCOW2REF_RETURN_IF_ERROR(store_->Flush());
  }
  // SPEC(QX.WRITE.order_snapshot_table): the new table is durable before the
  // header names it; the old one is freed after.
  constexpr uint32_t kFrom = HeaderField::kNbSnapshots.offset;
  uint8_t h[HeaderField::kSnapshotsOffset.end() - kFrom];
  StoreField(h, Rebased(HeaderField::kNbSnapshots, kFrom), all.size());
  StoreField(h, Rebased(HeaderField::kSnapshotsOffset, kFrom), at);
  QCOW2REF_RETURN_IF_ERROR(store_->WriteAt(kFrom, h, sizeof(h)));
  QCOW2REF_RETURN_IF_ERROR(store_->Flush());
  const uint64_t old_at = header_.snapshots_offset;
  const uint64_t old_bytes = SerializeSnapshotTable(snapshots_).size();
  header_.nb_snapshots = static_cast<uint32_t>(all.size());
  header_.snapshots_offset = at;
  snapshots_ = std::move(all);
  if (old_at != 0 && old_bytes > 0) {
    for (uint64_t c = old_at >> g_.cluster_bits;
         c <= (old_at + old_bytes - 1) >> g_.cluster_bits; ++c) {
      QCOW2REF_ASSIGN_OR_RETURN(uint64_t rc, Refcount(c));
      if (rc > 0) QCOW2REF_RETURN_IF_ERROR(SetRefcount(c, rc - 1));
    }
  }
  return OkStatus();
}

Status ImageWriter::SnapshotCreate(const std::string& name) {
  // SPEC(Q2.SNAP.not_with_xdf)
  if (header_.has_data_file()) {
    return UsageError("Q2.SNAP.not_with_xdf",
                      "images with an external data file have no internal "
                      "snapshots");
  }
  if (name.empty() || name.size() > 65535 || Find(snapshots_, name)) {
    return UsageError("snapshot name '" + name + "' is empty or already used");
  }
  if (snapshots_.size() >= kMaxSnapshots) {
    return UsageError("QX.LIMIT.snapshot_count",
                      "the image already has 65536 snapshots");
  }
  QCOW2REF_RETURN_IF_ERROR(CheckReferencesFit(l1_));
  QCOW2REF_RETURN_IF_ERROR(Flush());
  // COPIED bits go first: a bit missing on a cluster with refcount 1 only
  // costs a copy later; a bit left on a shared cluster would let a writer
  // overwrite the snapshot's data.
  QCOW2REF_RETURN_IF_ERROR(SetCopiedFlags(true));
  const uint64_t l1_bytes = uint64_t{header_.l1_size} * 8;
  uint64_t copy_at = 0;
  if (l1_bytes > 0) {
    QCOW2REF_ASSIGN_OR_RETURN(copy_at,
                              Allocate(DivRoundUp(l1_bytes, g_.cluster_size)));
    std::vector<uint8_t> raw(l1_bytes);
    for (uint64_t i = 0; i < l1_.size(); ++i)
      StoreBe64(raw.data() + 8 * i, l1_[i]);
    QCOW2REF_RETURN_IF_ERROR(store_->WriteAt(copy_at, raw.data(), raw.size()));
  }
  QCOW2REF_RETURN_IF_ERROR(AdjustL1References(l1_, +1));
  QCOW2REF_RETURN_IF_ERROR(store_->Flush());
  Snapshot s;
  s.l1_table_offset = copy_at;
  s.l1_size = header_.l1_size;
  uint64_t max_id = 0;
  for (const Snapshot& o : snapshots_) {
    max_id =
        std::max<uint64_t>(max_id, std::strtoull(o.id.c_str(), nullptr, 10));
  }
  s.id = std::to_string(max_id + 1);
  s.name = name;
  s.date_sec = static_cast<uint32_t>(std::time(nullptr));
  // SPEC(Q2.SNAP.extra_v3): 24 bytes of extra data: vm state size, disk
  // size, icount (-1: none).
  s.extra.assign(SnapshotExtraField::kIcount.end(), 0);
  StoreField(s.extra.data(), SnapshotExtraField::kDiskSize, header_.size);
  StoreField(s.extra.data(), SnapshotExtraField::kIcount, UINT64_MAX);
  s.disk_size = header_.size;
  std::vector<Snapshot> all = snapshots_;
  all.push_back(s);
  return WriteSnapshotTable(std::move(all));
}

Status ImageWriter::SnapshotDelete(const std::string& key) {
  const Snapshot* found = Find(snapshots_, key);
  if (found == nullptr) return UsageError("no snapshot '" + key + "'");
  const Snapshot s = *found;
  std::vector<Snapshot> rest;
  for (const Snapshot& o : snapshots_) {
    if (o.id != s.id) rest.push_back(o);
  }
  QCOW2REF_RETURN_IF_ERROR(Flush());
  QCOW2REF_RETURN_IF_ERROR(WriteSnapshotTable(std::move(rest)));
  // SPEC(QX.WRITE.order_decrement_after_pointer)
  QCOW2REF_ASSIGN_OR_RETURN(std::vector<uint64_t> l1,
                            ReadL1Table(*store_, s.l1_table_offset, s.l1_size));
  QCOW2REF_RETURN_IF_ERROR(AdjustL1References(l1, -1));
  if (s.l1_size > 0) {
    const uint64_t first = s.l1_table_offset >> g_.cluster_bits;
    const uint64_t n = DivRoundUp(uint64_t{s.l1_size} * 8, g_.cluster_size);
    for (uint64_t c = first; c < first + n; ++c) {
      QCOW2REF_ASSIGN_OR_RETURN(uint64_t rc, Refcount(c));
      if (rc > 0) QCOW2REF_RETURN_IF_ERROR(SetRefcount(c, rc - 1));
    }
  }
  QCOW2REF_RETURN_IF_ERROR(store_->Flush());
  return SetCopiedFlags(false);
}

Status ImageWriter::SnapshotApply(const std::string& key) {
  QCOW2REF_RETURN_IF_ERROR(CheckGuestDataMayChange());
  // SPEC(QX.WRITE.enabled_bitmap_refused): as QEMU ("Device has active dirty
  // bitmaps"): reverting the disk would make every enabled bitmap wrong.
  if (!tracked_.empty()) {
    return Unsupported("QX.WRITE.enabled_bitmap_refused", std::nullopt,
                       "the image has an enabled persistent bitmap ('" +
                           tracked_.front().name +
                           "'): applying a snapshot is refused, as QEMU "
                           "refuses it");
  }
  const Snapshot* found = Find(snapshots_, key);
  if (found == nullptr) return UsageError("no snapshot '" + key + "'");
  const Snapshot s = *found;
  if (s.l1_size > header_.l1_size ||
      (s.disk_size && *s.disk_size != header_.size)) {
    return Unsupported("Q2.SNAP.disk_size", s.entry_offset,
                       "applying a snapshot of another disk size is not "
                       "supported");
  }
  QCOW2REF_ASSIGN_OR_RETURN(std::vector<uint64_t> snap,
                            ReadL1Table(*store_, s.l1_table_offset, s.l1_size));
  snap.resize(header_.l1_size, 0);
  QCOW2REF_RETURN_IF_ERROR(CheckReferencesFit(snap));
  QCOW2REF_RETURN_IF_ERROR(Flush());
  QCOW2REF_RETURN_IF_ERROR(SetCopiedFlags(true));
  QCOW2REF_RETURN_IF_ERROR(AdjustL1References(snap, +1));
  QCOW2REF_RETURN_IF_ERROR(store_->Flush());
  const std::vector<uint64_t> old = l1_;
  std::vector<uint8_t> raw(snap.size() * 8);
  for (uint64_t i = 0; i < snap.size(); ++i) {
    StoreBe64(raw.data() + 8 * i, snap[i] & ~kEntryCopied);
  }
  QCOW2REF_RETURN_IF_ERROR(
      store_->WriteAt(header_.l1_table_offset, raw.data(), raw.size()));
  QCOW2REF_RETURN_IF_ERROR(store_->Flush());
  for (uint64_t i = 0; i < snap.size(); ++i) l1_[i] = snap[i] & ~kEntryCopied;
  QCOW2REF_RETURN_IF_ERROR(AdjustL1References(old, -1));
  QCOW2REF_RETURN_IF_ERROR(store_->Flush());
  return SetCopiedFlags(false);
}

}  // namespace qcow2ref
