#include "reference/format/snapshot_table.h"

#include "reference/format/limits.h"
#include "reference/format/snapshot_fields.h"
#include "reference/status/checked_math.h"

namespace qcow2ref {
namespace {

using F = SnapshotField;
using XF = SnapshotExtraField;

}  // namespace

Result<std::vector<Snapshot>> ParseSnapshotTable(const uint8_t* t,
                                                 size_t length, uint32_t count,
                                                 uint64_t table_offset) {
  std::vector<Snapshot> out;
  size_t off = 0;
  for (uint32_t i = 0; i < count; ++i) {
    const uint64_t at = table_offset + off;
    // SPEC(Q2.SNAP.table_bounds): entries start 8-aligned; the padding after
    // the last entry need not be in the file (QEMU does not write it).
    if (off > length || length - off < kSnapshotFixedSize) {
      return Rejected("Q2.SNAP.table_bounds", at,
                      "snapshot entry " + std::to_string(i) +
                          " lies past the end of the file");
    }
    // SPEC(Q2.SNAP.entry_layout)
    const uint8_t* e = t + off;
    Snapshot s;
    s.entry_offset = at;
    s.l1_table_offset = LoadField(e, F::kL1TableOffset);
    s.l1_size = LoadField<uint32_t>(e, F::kL1Size);
    const uint16_t id_size = LoadField<uint16_t>(e, F::kIdSize);
    const uint16_t name_size = LoadField<uint16_t>(e, F::kNameSize);
    s.date_sec = LoadField<uint32_t>(e, F::kDateSec);
    s.date_nsec = LoadField<uint32_t>(e, F::kDateNsec);
    s.vm_clock_nsec = LoadField(e, F::kVmClockNsec);
    s.vm_state_size = LoadField(e, F::kVmStateSize);
    const uint32_t extra_size = LoadField<uint32_t>(e, F::kExtraDataSize);
    // SPEC(QX.LIMIT.snapshot_table_size)
    if (extra_size > kMaxSnapshotExtraData) {
      return Rejected(
          "QX.LIMIT.snapshot_table_size", at + F::kExtraDataSize.offset,
          "snapshot entry " + std::to_string(i) + " has " +
              std::to_string(extra_size) + " bytes of extra data (limit 1024)");
    }
    const uint64_t used =
        uint64_t{kSnapshotFixedSize} + extra_size + id_size + name_size;
    const uint64_t entry_size = (used + 7) & ~uint64_t{7};
    if (used > length - off) {
      return Rejected("Q2.SNAP.table_bounds", at,
                      "snapshot entry " + std::to_string(i) +
                          " overruns the end of the file");
    }
    if (off + entry_size > kMaxSnapshotTableBytes) {
      return Rejected("QX.LIMIT.snapshot_table_size", at,
                      "snapshot table exceeds 64 MiB");
    }
    const uint8_t* extra = e + kSnapshotFixedSize;
    s.extra.assign(extra, extra + extra_size);
    if (extra_size >= XF::kVmStateSizeLarge.end()) {
      s.vm_state_size = LoadField(extra, XF::kVmStateSizeLarge);
    }
    if (extra_size >= XF::kDiskSize.end()) {
      s.disk_size = LoadField(extra, XF::kDiskSize);
    }
    if (extra_size >= XF::kIcount.end()) {
      s.icount = LoadField(extra, XF::kIcount);
    }
    const char* strings = reinterpret_cast<const char*>(extra + extra_size);
    s.id.assign(strings, id_size);
    s.name.assign(strings + id_size, name_size);
    out.push_back(std::move(s));
    off += entry_size;
  }
  return out;
}

std::vector<uint8_t> SerializeSnapshotTable(const std::vector<Snapshot>& all) {
  std::vector<uint8_t> out;
  for (const Snapshot& s : all) {
    const size_t at = out.size();
    const size_t size = (kSnapshotFixedSize + s.extra.size() + s.id.size() +
                         s.name.size() + 7) &
                        ~size_t{7};
    out.resize(at + size, 0);
    uint8_t* e = out.data() + at;
    StoreField(e, F::kL1TableOffset, s.l1_table_offset);
    StoreField(e, F::kL1Size, s.l1_size);
    StoreField(e, F::kIdSize, s.id.size());
    StoreField(e, F::kNameSize, s.name.size());
    StoreField(e, F::kDateSec, s.date_sec);
    StoreField(e, F::kDateNsec, s.date_nsec);
    StoreField(e, F::kVmClockNsec, s.vm_clock_nsec);
    // A size that does not fit in 32 bits is left to the extra data.
    StoreField(e, F::kVmStateSize,
               s.vm_state_size > 0xffffffffull ? 0 : s.vm_state_size);
    StoreField(e, F::kExtraDataSize, s.extra.size());
    uint8_t* extra = e + kSnapshotFixedSize;
    std::copy(s.extra.begin(), s.extra.end(), extra);
    std::copy(s.id.begin(), s.id.end(), extra + s.extra.size());
    std::copy(s.name.begin(), s.name.end(),
              extra + s.extra.size() + s.id.size());
  }
  return out;
}

}  // namespace qcow2ref
