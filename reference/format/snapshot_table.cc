#include "reference/format/snapshot_table.h"

#include "reference/format/endian.h"
#include "reference/format/limits.h"
#include "reference/status/checked_math.h"

namespace qcow2ref {

Result<std::vector<Snapshot>> ParseSnapshotTable(const uint8_t* t,
                                                 size_t length, uint32_t count,
                                                 uint64_t table_offset) {
  std::vector<Snapshot> out;
  size_t off = 0;
  for (uint32_t i = 0; i < count; ++i) {
    const uint64_t at = table_offset + off;
    // SPEC(Q2.SNAP.table_bounds): entries start 8-aligned; the padding after
    // the last entry need not be in the file (QEMU does not write it).
    if (off > length || length - off < 40) {
      return Rejected("Q2.SNAP.table_bounds", at,
                      "snapshot entry " + std::to_string(i) +
                          " lies past the end of the file");
    }
    // SPEC(Q2.SNAP.entry_layout)
    const uint8_t* e = t + off;
    Snapshot s;
    s.entry_offset = at;
    s.l1_table_offset = LoadBe64(e);
    s.l1_size = LoadBe32(e + 8);
    const uint16_t id_size = LoadBe16(e + 12);
    const uint16_t name_size = LoadBe16(e + 14);
    s.date_sec = LoadBe32(e + 16);
    s.date_nsec = LoadBe32(e + 20);
    s.vm_clock_nsec = LoadBe64(e + 24);
    s.vm_state_size = LoadBe32(e + 32);
    const uint32_t extra_size = LoadBe32(e + 36);
    // SPEC(QX.LIMIT.snapshot_table_size)
    if (extra_size > kMaxSnapshotExtraData) {
      return Rejected("QX.LIMIT.snapshot_table_size", at + 36,
                      "snapshot entry " + std::to_string(i) + " has " +
                          std::to_string(extra_size) +
                          " bytes of extra data (limit 1024)");
    }
    const uint64_t used = uint64_t{40} + extra_size + id_size + name_size;
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
    s.extra.assign(e + 40, e + 40 + extra_size);
    if (extra_size >= 8) s.vm_state_size = LoadBe64(e + 40);
    if (extra_size >= 16) s.disk_size = LoadBe64(e + 48);
    if (extra_size >= 24) s.icount = LoadBe64(e + 56);
    const char* strings = reinterpret_cast<const char*>(e + 40 + extra_size);
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
    const size_t size =
        (40 + s.extra.size() + s.id.size() + s.name.size() + 7) & ~size_t{7};
    out.resize(at + size, 0);
    uint8_t* e = out.data() + at;
    StoreBe64(e, s.l1_table_offset);
    StoreBe32(e + 8, s.l1_size);
    StoreBe16(e + 12, static_cast<uint16_t>(s.id.size()));
    StoreBe16(e + 14, static_cast<uint16_t>(s.name.size()));
    StoreBe32(e + 16, s.date_sec);
    StoreBe32(e + 20, s.date_nsec);
    StoreBe64(e + 24, s.vm_clock_nsec);
    StoreBe32(e + 32, s.vm_state_size > 0xffffffffull
                          ? 0
                          : static_cast<uint32_t>(s.vm_state_size));
    StoreBe32(e + 36, static_cast<uint32_t>(s.extra.size()));
    std::copy(s.extra.begin(), s.extra.end(), e + 40);
    std::copy(s.id.begin(), s.id.end(), e + 40 + s.extra.size());
    std::copy(s.name.begin(), s.name.end(),
              e + 40 + s.extra.size() + s.id.size());
  }
  return out;
}

}  // namespace qcow2ref
