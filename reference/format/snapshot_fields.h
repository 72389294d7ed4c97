// An entry of the internal snapshot table, field by field
// (Q2.SNAP.entry_layout; integers big-endian, Q2.HDR.big_endian). The fixed
// part is followed by extra data, then the id and the name (no
// terminators), and the entry is padded to 8 bytes.
#ifndef QCOW2REF_REFERENCE_FORMAT_SNAPSHOT_FIELDS_H_
#define QCOW2REF_REFERENCE_FORMAT_SNAPSHOT_FIELDS_H_

#include "reference/format/field.h"

namespace qcow2ref {

struct SnapshotField {
  // Host offset of the snapshot's copy of the L1 table.
  static constexpr Field kL1TableOffset{"l1_table_offset", 0, 8,
                                        "Q2.SNAP.l1_aligned"};
  // Entries in that L1 table.
  static constexpr Field kL1Size{"l1_size", 8, 4, "QX.LIMIT.snapshot_l1_size"};
  // Bytes of the id string.
  static constexpr Field kIdSize{"id_str_size", 12, 2, "Q2.SNAP.entry_layout"};
  // Bytes of the name.
  static constexpr Field kNameSize{"name_size", 14, 2, "Q2.SNAP.entry_layout"};
  // When the snapshot was taken: seconds and nanoseconds.
  static constexpr Field kDateSec{"date_sec", 16, 4, "Q2.SNAP.entry_layout"};
  static constexpr Field kDateNsec{"date_nsec", 20, 4, "Q2.SNAP.entry_layout"};
  // The guest's clock then, in nanoseconds.
  static constexpr Field kVmClockNsec{"vm_clock_nsec", 24, 8,
                                      "Q2.SNAP.entry_layout"};
  // Bytes of saved VM state (the extra data's 64-bit copy wins).
  static constexpr Field kVmStateSize{"vm_state_size", 32, 4,
                                      "Q2.SNAP.entry_layout"};
  // Bytes of extra data after the fixed part.
  static constexpr Field kExtraDataSize{"extra_data_size", 36, 4,
                                        "Q2.SNAP.extra_v3"};
};
inline constexpr Field kSnapshotFields[] = {
    SnapshotField::kL1TableOffset, SnapshotField::kL1Size,
    SnapshotField::kIdSize,        SnapshotField::kNameSize,
    SnapshotField::kDateSec,       SnapshotField::kDateNsec,
    SnapshotField::kVmClockNsec,   SnapshotField::kVmStateSize,
    SnapshotField::kExtraDataSize,
};
// Bytes of the fixed part; the extra data starts here.
inline constexpr uint32_t kSnapshotFixedSize =
    SnapshotField::kExtraDataSize.end();

// The extra data's fields, from its start; each is present only when the
// extra data is long enough to hold it.
struct SnapshotExtraField {
  // 64-bit size of the saved VM state.
  static constexpr Field kVmStateSizeLarge{"vm_state_size_large", 0, 8,
                                           "Q2.SNAP.extra_v3"};
  // The guest disk's size when the snapshot was taken.
  static constexpr Field kDiskSize{"disk_size", 8, 8, "Q2.SNAP.disk_size"};
  // Instructions the guest had run, for record/replay.
  static constexpr Field kIcount{"icount", 16, 8, "Q2.SNAP.entry_layout"};
};
inline constexpr Field kSnapshotExtraFields[] = {
    SnapshotExtraField::kVmStateSizeLarge, SnapshotExtraField::kDiskSize,
    SnapshotExtraField::kIcount};

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_FORMAT_SNAPSHOT_FIELDS_H_
