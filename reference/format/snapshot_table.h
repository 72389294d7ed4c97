// The internal snapshot table: a list of variable-length entries.
#ifndef QCOW2REF_REFERENCE_FORMAT_SNAPSHOT_TABLE_H_
#define QCOW2REF_REFERENCE_FORMAT_SNAPSHOT_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "reference/status/status.h"

namespace qcow2ref {

struct Snapshot {
  uint64_t l1_table_offset = 0;
  uint32_t l1_size = 0;
  std::string id;
  std::string name;
  uint32_t date_sec = 0;
  uint32_t date_nsec = 0;
  uint64_t vm_clock_nsec = 0;
  uint64_t vm_state_size = 0;  // 64-bit value from extra data when present.
  std::optional<uint64_t> disk_size;
  std::optional<uint64_t> icount;
  std::vector<uint8_t> extra;  // All extra data, verbatim.
  uint64_t entry_offset = 0;   // Host offset of this entry.
};

// Parses `count` entries from `table` (the bytes at `table_offset`, up to the
// end of the file or the table limit). Fails when an entry overruns; the
// alignment padding after the last entry may lie past the end
// (Q2.SNAP.table_bounds).
Result<std::vector<Snapshot>> ParseSnapshotTable(const uint8_t* table,
                                                 size_t length, uint32_t count,
                                                 uint64_t table_offset);

// Serializes entries (each padded to 8 bytes).
std::vector<uint8_t> SerializeSnapshotTable(const std::vector<Snapshot>& s);

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_FORMAT_SNAPSHOT_TABLE_H_
