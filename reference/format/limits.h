// Implementation limits (QX.LIMIT.* clauses): every allocation sized from an
// image field is bounded by one of these.
#ifndef QCOW2REF_REFERENCE_FORMAT_LIMITS_H_
#define QCOW2REF_REFERENCE_FORMAT_LIMITS_H_

#include <cstdint>

namespace qcow2ref {

inline constexpr uint32_t kMaxClusterBits = 21;  // QX.LIMIT.cluster_bits_max
inline constexpr uint32_t kMaxBackingFileNameLength = 1023;
inline constexpr uint64_t kMaxVirtualSize =
    (uint64_t{1} << 63) - 1;  // QX.LIMIT.virtual_size
inline constexpr uint64_t kMaxL1TableBytes = 32ull << 20;  // QX.LIMIT.l1_size
inline constexpr uint64_t kMaxRefcountTableBytes =
    8ull << 20;  // QX.LIMIT.refcount_table_size
inline constexpr uint32_t kMaxSnapshots = 65536;  // QX.LIMIT.snapshot_count
inline constexpr uint64_t kMaxSnapshotTableBytes =
    64ull << 20;  // QX.LIMIT.snapshot_table_size
inline constexpr uint32_t kMaxSnapshotExtraData =
    1024;  // QX.LIMIT.snapshot_table_size
inline constexpr uint64_t kMaxSnapshotL1Bytes =
    32ull << 20;                                // QX.LIMIT.snapshot_l1_size
inline constexpr uint32_t kMaxBitmaps = 65535;  // QX.LIMIT.bitmap_count
inline constexpr uint64_t kMaxBitmapDirectoryBytes =
    1024ull * 65535;  // Q2.BMX.directory_size.max
inline constexpr uint32_t kMaxBitmapTableEntries =
    0x8000000;                                        // QX.LIMIT.bitmap_count
inline constexpr uint32_t kMaxBitmapNameSize = 1023;  // Q2.BM.name_size
inline constexpr int kMaxBackingDepth = 16;           // QX.LIMIT.backing_depth
inline constexpr uint64_t kMaxMetadataBytesPerOpen =
    256ull << 20;  // QX.LIMIT.open_memory
// check keeps the first this many findings of each clause and counts the
// rest exactly (QX.LIMIT.check_findings).
inline constexpr uint64_t kMaxFindingsPerClause = 100;
// The map cap (QX.LIMIT.map_entries) is kMaxMapEntries in
// reference/image/guest_map.h; the PBKDF2 budgets (QX.LIMIT.pbkdf2_*) are in
// reference/crypto/luks_unlock.h. Walks are linear in distinct tables
// (QX.LIMIT.map_stream, QX.LIMIT.check_tables_once,
// QX.LIMIT.snapshot_distinct_tables): they have no number to state.

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_FORMAT_LIMITS_H_
