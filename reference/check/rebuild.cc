#include "reference/check/rebuild.h"

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "reference/check/checker.h"
#include "reference/format/cluster_entries.h"
#include "reference/format/header.h"
#include "reference/format/header_fields.h"
#include "reference/format/limits.h"
#include "reference/format/refcount.h"
#include "reference/status/checked_math.h"
#include "reference/status/endian.h"

namespace qcow2ref {
namespace {

// Findings a rebuild repairs; any other corruption stops it.
bool Repairable(const Finding& f) {
  return f.severity != Severity::kCorruption ||
         f.clause == "Q2.RC.covers_references" || f.clause == "Q2.MAP.copied";
}

Result<CheckResult> Check(const ByteStore& store) {
  CheckOptions o;
  o.decompress = false;
  return CheckImage(std::make_unique<BorrowedSource>(&store), o);
}

Status RefuseUnlessRepairable(const CheckResult& r) {
  // SPEC(QX.CHECK.repair_rebuild): only counts and COPIED bits are
  // recomputed; a fault in what they are computed from is not guessed at.
  if (r.report.check_errors || !r.usage) {
    return Rejected("QX.CHECK.repair_rebuild", std::nullopt,
                    "the image could not be checked completely: not repaired");
  }
  for (const Finding& f : r.report.findings) {
    if (!Repairable(f)) {
      return Rejected("QX.CHECK.repair_rebuild", f.offset,
                      "cannot repair " + f.clause + " (" + f.message +
                          "): only refcounts and COPIED bits are rebuilt");
    }
  }
  return OkStatus();
}

}  // namespace

Status CheckRepairable(const ByteStore& store) {
  QCOW2REF_ASSIGN_OR_RETURN(CheckResult r, Check(store));
  return RefuseUnlessRepairable(r);
}

Result<RebuildSummary> RebuildRefcounts(ByteStore* store) {
  QCOW2REF_ASSIGN_OR_RETURN(CheckResult before, Check(*store));
  QCOW2REF_RETURN_IF_ERROR(RefuseUnlessRepairable(before));
  std::vector<uint8_t> hb(std::min<uint64_t>(store->Size(), uint64_t{1} << 21));
  QCOW2REF_RETURN_IF_ERROR(store->ReadAt(0, hb.data(), hb.size()));
  QCOW2REF_ASSIGN_OR_RETURN(Header h, ParseHeader(hb.data(), hb.size()));
  const uint64_t cs = h.cluster_size();
  const uint64_t per_block = (cs * 8) >> h.refcount_order;
  const ClusterUsage& usage = *before.usage;

  RebuildSummary summary;
  summary.refcounts_changed = before.report.leaks.size();
  summary.refcounts_changed +=
      before.report.CountClause("Q2.RC.covers_references");
  const bool dirty = (h.incompatible_features & kIncompatDirty) != 0;
  if (summary.refcounts_changed > 0 || dirty) {
    // The new table and blocks go past the end of the file; they must
    // cover themselves too.
    const uint64_t n =
        std::max<uint64_t>(usage.size(), DivRoundUp(store->Size(), cs));
    uint64_t total = n, blocks = 0, table_clusters = 0;
    for (;;) {
      blocks = DivRoundUp(total, per_block);
      table_clusters = DivRoundUp(blocks * 8, cs);
      const uint64_t next = n + table_clusters + blocks;
      if (next <= total) break;
      total = next;
    }
    if (table_clusters * cs > kMaxRefcountTableBytes) {
      return Unsupported("QX.LIMIT.refcount_table_size", std::nullopt,
                         "the rebuilt refcount table would exceed 8 MiB");
    }
    std::vector<uint8_t> table(table_clusters * cs, 0);
    std::vector<uint8_t> block_bytes(blocks * cs, 0);
    for (uint64_t c = 0; c < n + table_clusters + blocks; ++c) {
      uint64_t refs = 0;
      if (c < n) {
        const Owner o = usage.owner(c);
        // The old refcount structures are dropped by the switch.
        if (o != Owner::kRefcountTable && o != Owner::kRefcountBlock) {
          refs = usage.references(c);
        }
      } else {
        refs = 1;  // The new table and blocks.
      }
      if (refs == 0) continue;
      SetRefcount(block_bytes.data() + (c / per_block) * cs, c % per_block,
                  h.refcount_order, refs);
    }
    const uint64_t table_at = n * cs;
    const uint64_t blocks_at = table_at + table_clusters * cs;
    for (uint64_t b = 0; b < blocks; ++b) {
      StoreBe64(table.data() + 8 * b, blocks_at + b * cs);
    }
    QCOW2REF_RETURN_IF_ERROR(
        store->WriteAt(blocks_at, block_bytes.data(), block_bytes.size()));
    QCOW2REF_RETURN_IF_ERROR(
        store->WriteAt(table_at, table.data(), table.size()));
    // SPEC(QX.WRITE.order_reftable): the new structures are durable before
    // the header names them (one 12-byte write inside the first sector).
    QCOW2REF_RETURN_IF_ERROR(store->Flush());
    constexpr uint32_t kFrom = HeaderField::kRefcountTableOffset.offset;
    uint8_t fields[HeaderField::kRefcountTableClusters.end() - kFrom];
    StoreField(fields, Rebased(HeaderField::kRefcountTableOffset, kFrom),
               table_at);
    StoreField(fields, Rebased(HeaderField::kRefcountTableClusters, kFrom),
               table_clusters);
    QCOW2REF_RETURN_IF_ERROR(store->WriteAt(kFrom, fields, sizeof(fields)));
    QCOW2REF_RETURN_IF_ERROR(store->Flush());
  }
  // COPIED bits can be judged only against right refcounts: check again.
  QCOW2REF_ASSIGN_OR_RETURN(CheckResult mid, Check(*store));
  QCOW2REF_RETURN_IF_ERROR(RefuseUnlessRepairable(mid));
  for (const CheckReport::CopiedFix& fix : mid.report.copied_fixes) {
    uint8_t e[8];
    QCOW2REF_RETURN_IF_ERROR(store->ReadAt(fix.entry_offset, e, 8));
    const uint64_t entry = LoadBe64(e);
    StoreBe64(e, fix.copied ? entry | kEntryCopied : entry & ~kEntryCopied);
    QCOW2REF_RETURN_IF_ERROR(store->WriteAt(fix.entry_offset, e, 8));
    ++summary.copied_fixed;
  }
  if (summary.copied_fixed > 0) QCOW2REF_RETURN_IF_ERROR(store->Flush());
  QCOW2REF_ASSIGN_OR_RETURN(CheckResult after, Check(*store));
  if (after.report.check_errors ||
      after.report.Count(Severity::kCorruption) > 0 ||
      !after.report.leaks.empty()) {
    return Rejected("QX.CHECK.repair_rebuild", std::nullopt,
                    "the image is still not consistent after the rebuild");
  }
  // SPEC(QX.CHECK.repair_rebuild): the dirty bit and a corrupt mark are
  // lifted only once the image is proven consistent, COPIED bits included
  // (as qemu-img check -r all does). Clearing the dirty bit before the
  // COPIED fixes were durable let a crash leave a clean-marked image with
  // COPIED on a cluster a snapshot shares, which QEMU would then overwrite
  // in place (found by crash_admin_test); still dirty, QEMU repairs it on
  // open.
  uint64_t lift = dirty ? kIncompatDirty : 0;
  if (h.version >= 3 && (h.incompatible_features & kIncompatCorrupt)) {
    lift |= kIncompatCorrupt;
  }
  if (lift != 0) {
    constexpr Field kField = HeaderField::kIncompatibleFeatures;
    uint8_t f[kField.width];
    QCOW2REF_RETURN_IF_ERROR(store->ReadAt(kField.offset, f, sizeof(f)));
    StoreField(f, Alone(kField), LoadField(f, Alone(kField)) & ~lift);
    QCOW2REF_RETURN_IF_ERROR(store->WriteAt(kField.offset, f, sizeof(f)));
    QCOW2REF_RETURN_IF_ERROR(store->Flush());
    summary.dirty_cleared = dirty;
    summary.corrupt_cleared = (lift & kIncompatCorrupt) != 0;
  }
  return summary;
}

}  // namespace qcow2ref
