// Full repair: rebuilds every refcount from the metadata that references
// clusters (L1/L2 and snapshot tables, bitmaps, the LUKS area, the header)
// and fixes COPIED bits, as `qemu-img check -r all` does, and as QEMU does
// before writing an image left dirty by lazy refcounts.
#ifndef QCOW2REF_REFERENCE_CHECK_REBUILD_H_
#define QCOW2REF_REFERENCE_CHECK_REBUILD_H_

#include <cstdint>

#include "reference/io/byte_store.h"
#include "reference/status/status.h"

namespace qcow2ref {

struct RebuildSummary {
  uint64_t refcounts_changed = 0;  // Clusters whose count was wrong.
  uint64_t copied_fixed = 0;       // L1/L2 entries whose COPIED bit changed.
  bool dirty_cleared = false;
  bool corrupt_cleared = false;  // Only once the image checks clean.
};

// Checks the image in `store`; when every corruption is a wrong refcount or
// COPIED bit (QX.CHECK.repair_rebuild), writes a new refcount table and new
// blocks past the end of the file, switches the header to them, fixes
// COPIED bits, checks again, and only then clears the dirty bit. Crash-safe:
// until the header switch the old structures are in force; after it, the new
// ones are complete. Anything else wrong is refused before a byte is written.
Result<RebuildSummary> RebuildRefcounts(ByteStore* store);

// The refusal RebuildRefcounts would give, without writing anything.
Status CheckRepairable(const ByteStore& store);

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_CHECK_REBUILD_H_
