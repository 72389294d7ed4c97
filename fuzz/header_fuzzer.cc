// header_fuzzer: the input is the start of a qcow2 file (cluster 0).
// ParseHeader, ParseExtensions and a snapshot table parse, with the round
// trip invariants of the serializers:
//   header:      serialize(parse(x)) == x[0, header_length) and
//                parse(serialize(h)) == h
//   extensions:  parse(serialize(e)) == e, and serialize is a fixed point
//   snapshots:   parse(serialize(parse(x))) == parse(x)
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "reference/format/extensions.h"
#include "reference/format/header.h"
#include "reference/format/snapshot_table.h"

namespace {

using namespace qcow2ref;

bool SameExtensions(const Extensions& a, const Extensions& b) {
  if (a.backing_format != b.backing_format) return false;
  if (a.has_feature_table != b.has_feature_table) return false;
  if (a.feature_names.size() != b.feature_names.size()) return false;
  for (size_t i = 0; i < a.feature_names.size(); ++i) {
    const FeatureName& x = a.feature_names[i];
    const FeatureName& y = b.feature_names[i];
    if (x.type != y.type || x.bit != y.bit || x.name != y.name) return false;
  }
  if (a.bitmaps.has_value() != b.bitmaps.has_value()) return false;
  if (a.bitmaps && (a.bitmaps->nb_bitmaps != b.bitmaps->nb_bitmaps ||
                    a.bitmaps->directory_size != b.bitmaps->directory_size ||
                    a.bitmaps->directory_offset != b.bitmaps->directory_offset))
    return false;
  if (a.fde.has_value() != b.fde.has_value()) return false;
  if (a.fde &&
      (a.fde->offset != b.fde->offset || a.fde->length != b.fde->length))
    return false;
  if (a.data_file != b.data_file) return false;
  if (a.unknown.size() != b.unknown.size()) return false;
  for (size_t i = 0; i < a.unknown.size(); ++i) {
    if (a.unknown[i].type != b.unknown[i].type ||
        a.unknown[i].data != b.unknown[i].data)
      return false;
  }
  return true;
}

bool SameSnapshots(const std::vector<Snapshot>& a,
                   const std::vector<Snapshot>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const Snapshot& x = a[i];
    const Snapshot& y = b[i];
    if (x.l1_table_offset != y.l1_table_offset || x.l1_size != y.l1_size ||
        x.id != y.id || x.name != y.name || x.date_sec != y.date_sec ||
        x.date_nsec != y.date_nsec || x.vm_clock_nsec != y.vm_clock_nsec ||
        x.vm_state_size != y.vm_state_size || x.disk_size != y.disk_size ||
        x.icount != y.icount || x.extra != y.extra)
      return false;
  }
  return true;
}

void CheckHeaderAndExtensions(const uint8_t* data, size_t size) {
  auto h = ParseHeader(data, size);
  if (!h.ok()) return;
  // serialize(parse(x)) reproduces the header bytes exactly.
  const std::vector<uint8_t> bytes = SerializeHeader(*h);
  const size_t hlen = h->version == 2 ? kV2HeaderLength : h->header_length;
  FUZZ_CHECK(bytes.size() == hlen);
  FUZZ_CHECK(hlen <= size);
  FUZZ_CHECK(std::memcmp(bytes.data(), data, hlen) == 0);
  // parse(serialize(h)) == h.
  auto again = ParseHeader(bytes.data(), bytes.size());
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == *h);

  const size_t c0 = std::min<uint64_t>(size, h->cluster_size());
  auto e = ParseExtensions(*h, data, c0);
  if (!e.ok()) return;
  FUZZ_CHECK(e->end_offset >= h->header_length);
  FUZZ_CHECK(e->end_offset <= c0 + 8);
  // Re-parse the serialized extensions behind the same header (without a
  // backing file name, so the area runs to the end of the buffer).
  const std::vector<uint8_t> ext = SerializeExtensions(*e);
  FUZZ_CHECK(ext.size() % 8 == 0);
  if (hlen + ext.size() > h->cluster_size()) return;
  Header plain = *h;
  plain.backing_file_offset = 0;
  plain.backing_file_size = 0;
  std::vector<uint8_t> buf = SerializeHeader(plain);
  buf.insert(buf.end(), ext.begin(), ext.end());
  auto e2 = ParseExtensions(plain, buf.data(), buf.size());
  FUZZ_CHECK(e2.ok());
  FUZZ_CHECK(SameExtensions(*e, *e2));
  FUZZ_CHECK(e2->end_offset == buf.size());
  FUZZ_CHECK(SerializeExtensions(*e2) == ext);
}

// The snapshot table: the input after the first 2 bytes, which give the
// entry count (0..255 to keep inputs cheap).
void CheckSnapshotTable(const uint8_t* data, size_t size) {
  if (size < 2) return;
  const uint32_t count = data[1];
  auto s = ParseSnapshotTable(data + 2, size - 2, count, 0x10000);
  if (!s.ok()) return;
  FUZZ_CHECK(s->size() == count);
  const std::vector<uint8_t> bytes = SerializeSnapshotTable(*s);
  // Only the last entry's alignment padding may lie past the input
  // (Q2.SNAP.table_bounds, errata #27): at most 7 bytes more.
  FUZZ_CHECK(bytes.size() <= size - 2 + 7);
  auto again = ParseSnapshotTable(bytes.data(), bytes.size(), count, 0x10000);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(SameSnapshots(*s, *again));
  FUZZ_CHECK(SerializeSnapshotTable(*again) == bytes);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  CheckHeaderAndExtensions(data, size);
  // The same bytes as a snapshot table (a qcow2 header is not one, but its
  // bytes make as good a start as any).
  CheckSnapshotTable(data, size);
  return 0;
}
