// Property tests (RapidCheck) of the header, extension and snapshot table
// serializers: parse(serialize(v)) == v for generated valid values, and
// serialize(parse(x)) == x for valid bytes laid out by hand from the field
// tables (independently of the serializers). The seed comes from RC_PARAMS
// (.bazelrc); a failure prints the seed and the shrunk counterexample.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "reference/format/extensions.h"
#include "reference/format/header.h"
#include "reference/format/limits.h"
#include "reference/format/snapshot_table.h"
#include "reference/format/test_bytes.h"
#include "reference/status/spec_cite.h"

namespace qcow2ref {
namespace {

using testing::PutBe;

// A header that every ParseHeader rule accepts.
rc::Gen<Header> GenValidHeader() {
  return rc::gen::exec([]() {
    Header h;
    h.version = *rc::gen::element(2u, 3u);
    h.cluster_bits = *rc::gen::inRange(9u, 22u);
    const uint64_t cs = h.cluster_size();
    h.crypt_method = static_cast<CryptMethod>(*rc::gen::inRange(0u, 3u));
    if (h.version == 3) {
      // header_length: 104 .. min(cluster, 1024), a multiple of 8.
      const uint32_t max_len =
          static_cast<uint32_t>(std::min<uint64_t>(cs, 1024));
      h.header_length = 8 * *rc::gen::inRange(13u, max_len / 8 + 1);
      h.compression_type =
          h.header_length > 104 ? *rc::gen::inRange<uint8_t>(0, 2) : 0;
      uint64_t incompat = *rc::gen::inRange<uint64_t>(0, 32);
      incompat &= ~kIncompatCompressionType;
      if (h.compression_type != 0) incompat |= kIncompatCompressionType;
      if (h.cluster_bits < 14) incompat &= ~kIncompatExtendedL2;
      h.incompatible_features = incompat;
      h.compatible_features = *rc::gen::arbitrary<uint64_t>();
      h.autoclear_features = *rc::gen::arbitrary<uint64_t>();
      if (!h.has_data_file()) h.autoclear_features &= ~kAutoclearRawDataFile;
      h.refcount_order = *rc::gen::inRange(0u, 7u);
      if (h.header_length > 105) {
        h.trailing = *rc::gen::container<std::vector<uint8_t>>(
            h.header_length - 105, rc::gen::arbitrary<uint8_t>());
      }
    } else {
      h.header_length = kV2HeaderLength;
      h.refcount_order = 4;
    }
    if (*rc::gen::arbitrary<bool>()) {
      h.backing_file_size = *rc::gen::inRange(0u, 1024u);
      const uint64_t room = cs - h.header_length;
      if (h.backing_file_size > room) h.backing_file_size = 0;
      h.backing_file_offset =
          h.header_length +
          *rc::gen::inRange<uint64_t>(0, room - h.backing_file_size + 1);
      if (h.backing_file_offset == 0) h.backing_file_size = 0;
    }
    const uint64_t entry = h.extended_l2() ? 16 : 8;
    const uint64_t per_l1 = cs * (cs / entry);
    h.l1_size = *rc::gen::inRange<uint32_t>(0, (kMaxL1TableBytes / 8) + 1);
    h.size = std::min<uint64_t>(
        kMaxVirtualSize,
        *rc::gen::inRange<uint64_t>(0, uint64_t{h.l1_size} * per_l1 + 1));
    const uint64_t max_cluster = (uint64_t{1} << (56 - h.cluster_bits));
    h.l1_table_offset = cs * *rc::gen::inRange<uint64_t>(0, max_cluster);
    h.refcount_table_offset = cs * *rc::gen::inRange<uint64_t>(0, max_cluster);
    h.refcount_table_clusters = *rc::gen::inRange<uint32_t>(
        1, static_cast<uint32_t>(kMaxRefcountTableBytes / cs) + 1);
    h.nb_snapshots = *rc::gen::inRange<uint32_t>(0, kMaxSnapshots + 1);
    h.snapshots_offset = cs * *rc::gen::inRange<uint64_t>(0, max_cluster);
    return h;
  });
}

// The header's bytes written field by field from the spec's table.
std::vector<uint8_t> HandMadeHeaderBytes(const Header& h) {
  std::vector<uint8_t> b;
  PutBe(b, 0, 0x514649FB, 4);
  PutBe(b, 4, h.version, 4);
  PutBe(b, 8, h.backing_file_offset, 8);
  PutBe(b, 16, h.backing_file_size, 4);
  PutBe(b, 20, h.cluster_bits, 4);
  PutBe(b, 24, h.size, 8);
  PutBe(b, 32, static_cast<uint32_t>(h.crypt_method), 4);
  PutBe(b, 36, h.l1_size, 4);
  PutBe(b, 40, h.l1_table_offset, 8);
  PutBe(b, 48, h.refcount_table_offset, 8);
  PutBe(b, 56, h.refcount_table_clusters, 4);
  PutBe(b, 60, h.nb_snapshots, 4);
  PutBe(b, 64, h.snapshots_offset, 8);
  if (h.version == 3) {
    PutBe(b, 72, h.incompatible_features, 8);
    PutBe(b, 80, h.compatible_features, 8);
    PutBe(b, 88, h.autoclear_features, 8);
    PutBe(b, 96, h.refcount_order, 4);
    PutBe(b, 100, h.header_length, 4);
    if (h.header_length > 104) PutBe(b, 104, h.compression_type, 1);
    for (size_t i = 0; i < h.trailing.size(); ++i) b.push_back(h.trailing[i]);
  }
  return b;
}

RC_GTEST_PROP(HeaderProperty, ParseOfSerializeIsIdentity, ()) {
  QCOW2_SPEC("Q2.HDR.big_endian");
  const Header h = *GenValidHeader();
  const std::vector<uint8_t> bytes = SerializeHeader(h);
  auto parsed = ParseHeader(bytes.data(), bytes.size());
  RC_ASSERT(parsed.ok());
  RC_ASSERT(*parsed == h);
}

RC_GTEST_PROP(HeaderProperty, SerializeOfParseIsIdentity, ()) {
  QCOW2_SPEC("Q2.HDR.big_endian");
  QCOW2_SPEC("Q2.HDRV3.additional_fields.zero_is_absent");
  const Header h = *GenValidHeader();
  const std::vector<uint8_t> x = HandMadeHeaderBytes(h);
  // The header is followed by the rest of cluster 0 in a real file.
  std::vector<uint8_t> file = x;
  file.resize(std::max<size_t>(x.size(), 4096), 0);
  auto parsed = ParseHeader(file.data(), file.size());
  RC_ASSERT(parsed.ok());
  RC_ASSERT(*parsed == h);  // Every field read big-endian at its offset.
  RC_ASSERT(SerializeHeader(*parsed) == x);
}

// Extensions that ParseExtensions accepts for `h` (cluster_bits >= 16 so
// that they fit in cluster 0).
rc::Gen<Extensions> GenExtensions(const Header& h) {
  return rc::gen::exec([h]() {
    Extensions e;
    auto text = [](size_t max) {
      return *rc::gen::resize(
          static_cast<int>(max),
          rc::gen::container<std::string>(rc::gen::arbitrary<char>()));
    };
    if (*rc::gen::arbitrary<bool>()) e.backing_format = text(64);
    if (*rc::gen::arbitrary<bool>()) e.data_file = text(200);
    if (h.crypt_method == CryptMethod::kLuks && *rc::gen::arbitrary<bool>()) {
      e.fde =
          FdePointer{h.cluster_size() * *rc::gen::inRange<uint64_t>(0, 1 << 20),
                     *rc::gen::arbitrary<uint64_t>()};
    }
    if (*rc::gen::arbitrary<bool>()) {
      e.has_feature_table = true;
      const size_t n = *rc::gen::inRange<size_t>(0, 17);
      for (size_t i = 0; i < n; ++i) {
        FeatureName f;
        f.type = *rc::gen::inRange<uint8_t>(0, 3);
        f.bit = *rc::gen::inRange<uint8_t>(0, 64);
        f.name = *rc::gen::resize(46, rc::gen::container<std::string>(
                                          rc::gen::inRange<char>(1, 127)));
        if (f.name.size() > 46) f.name.resize(46);
        e.feature_names.push_back(f);
      }
    }
    if (*rc::gen::arbitrary<bool>()) {
      BitmapsExtension b;
      b.nb_bitmaps = *rc::gen::inRange<uint32_t>(1, kMaxBitmaps + 1);
      b.directory_size =
          *rc::gen::inRange<uint64_t>(0, kMaxBitmapDirectoryBytes + 1);
      b.directory_offset =
          h.cluster_size() * *rc::gen::inRange<uint64_t>(0, 1 << 20);
      e.bitmaps = b;
    }
    const size_t unknown = *rc::gen::inRange<size_t>(0, 4);
    for (size_t i = 0; i < unknown; ++i) {
      UnknownExtension u;
      u.type =
          *rc::gen::suchThat(rc::gen::arbitrary<uint32_t>(), [](uint32_t t) {
            return t != kExtEnd && t != kExtBackingFormat &&
                   t != kExtFeatureNames && t != kExtBitmaps &&
                   t != kExtFullDiskEncryption && t != kExtDataFile;
          });
      u.data = *rc::gen::resize(100, rc::gen::container<std::vector<uint8_t>>(
                                         rc::gen::arbitrary<uint8_t>()));
      e.unknown.push_back(u);
    }
    return e;
  });
}

Header ExtensionTestHeader() {
  Header h = *GenValidHeader();
  h.cluster_bits = *rc::gen::inRange(16u, 22u);
  h.backing_file_offset = 0;
  h.backing_file_size = 0;
  return h;
}

bool SameExtensions(const Extensions& a, const Extensions& b) {
  if (a.backing_format != b.backing_format || a.data_file != b.data_file ||
      a.has_feature_table != b.has_feature_table ||
      a.feature_names.size() != b.feature_names.size() ||
      a.bitmaps.has_value() != b.bitmaps.has_value() ||
      a.fde.has_value() != b.fde.has_value() ||
      a.unknown.size() != b.unknown.size())
    return false;
  for (size_t i = 0; i < a.feature_names.size(); ++i) {
    if (a.feature_names[i].type != b.feature_names[i].type ||
        a.feature_names[i].bit != b.feature_names[i].bit ||
        a.feature_names[i].name != b.feature_names[i].name)
      return false;
  }
  if (a.bitmaps && (a.bitmaps->nb_bitmaps != b.bitmaps->nb_bitmaps ||
                    a.bitmaps->directory_size != b.bitmaps->directory_size ||
                    a.bitmaps->directory_offset != b.bitmaps->directory_offset))
    return false;
  if (a.fde &&
      (a.fde->offset != b.fde->offset || a.fde->length != b.fde->length))
    return false;
  for (size_t i = 0; i < a.unknown.size(); ++i) {
    if (a.unknown[i].type != b.unknown[i].type ||
        a.unknown[i].data != b.unknown[i].data)
      return false;
  }
  return true;
}

RC_GTEST_PROP(ExtensionsProperty, ParseOfSerializeIsIdentity, ()) {
  QCOW2_SPEC("Q2.EXT.padding");
  QCOW2_SPEC("Q2.EXT.unknown_skip");
  const Header h = ExtensionTestHeader();
  const Extensions e = *GenExtensions(h);
  std::vector<uint8_t> c0 = SerializeHeader(h);
  const std::vector<uint8_t> ext = SerializeExtensions(e);
  c0.insert(c0.end(), ext.begin(), ext.end());
  RC_PRE(c0.size() <= h.cluster_size());
  c0.resize(h.cluster_size(), 0);
  auto parsed = ParseExtensions(h, c0.data(), c0.size());
  RC_ASSERT(parsed.ok());
  RC_ASSERT(SameExtensions(*parsed, e));
  RC_ASSERT(parsed->end_offset == h.header_length + ext.size());
}

// Extension bytes laid out by hand in QEMU's order, zero padded.
void PutExtension(std::vector<uint8_t>& b, uint32_t type,
                  const std::vector<uint8_t>& data) {
  const size_t at = b.size();
  PutBe(b, at, type, 4);
  PutBe(b, at + 4, data.size(), 4);
  b.insert(b.end(), data.begin(), data.end());
  b.resize(at + 8 + ((data.size() + 7) & ~size_t{7}), 0);
}

RC_GTEST_PROP(ExtensionsProperty, SerializeOfParseIsIdentity, ()) {
  QCOW2_SPEC("Q2.EXT.end_marker");
  QCOW2_SPEC("Q2.EXT.padding");
  const Header h = ExtensionTestHeader();
  const Extensions e = *GenExtensions(h);
  auto bytes = [](const std::string& s) {
    return std::vector<uint8_t>(s.begin(), s.end());
  };
  std::vector<uint8_t> x;
  if (e.backing_format)
    PutExtension(x, kExtBackingFormat, bytes(*e.backing_format));
  if (e.data_file) PutExtension(x, kExtDataFile, bytes(*e.data_file));
  if (e.fde) {
    std::vector<uint8_t> d;
    PutBe(d, 0, e.fde->offset, 8);
    PutBe(d, 8, e.fde->length, 8);
    PutExtension(x, kExtFullDiskEncryption, d);
  }
  if (e.has_feature_table) {
    std::vector<uint8_t> d(48 * e.feature_names.size(), 0);
    for (size_t i = 0; i < e.feature_names.size(); ++i) {
      d[48 * i] = e.feature_names[i].type;
      d[48 * i + 1] = e.feature_names[i].bit;
      std::memcpy(&d[48 * i + 2], e.feature_names[i].name.data(),
                  e.feature_names[i].name.size());
    }
    PutExtension(x, kExtFeatureNames, d);
  }
  if (e.bitmaps) {
    std::vector<uint8_t> d;
    PutBe(d, 0, e.bitmaps->nb_bitmaps, 4);
    PutBe(d, 4, 0, 4);
    PutBe(d, 8, e.bitmaps->directory_size, 8);
    PutBe(d, 16, e.bitmaps->directory_offset, 8);
    PutExtension(x, kExtBitmaps, d);
  }
  for (const UnknownExtension& u : e.unknown) PutExtension(x, u.type, u.data);
  x.resize(x.size() + 8, 0);  // End marker.
  std::vector<uint8_t> c0 = SerializeHeader(h);
  RC_PRE(c0.size() + x.size() <= h.cluster_size());
  c0.insert(c0.end(), x.begin(), x.end());
  auto parsed = ParseExtensions(h, c0.data(), c0.size());
  RC_ASSERT(parsed.ok());
  RC_ASSERT(SerializeExtensions(*parsed) == x);
}

// A snapshot table whose entries carry consistent extra data.
rc::Gen<std::vector<Snapshot>> GenSnapshots(uint64_t table_offset) {
  return rc::gen::exec([table_offset]() {
    std::vector<Snapshot> all;
    const size_t n = *rc::gen::inRange<size_t>(0, 9);
    uint64_t at = table_offset;
    for (size_t i = 0; i < n; ++i) {
      Snapshot s;
      s.l1_table_offset = *rc::gen::arbitrary<uint64_t>();
      s.l1_size = *rc::gen::arbitrary<uint32_t>();
      s.id = *rc::gen::resize(
          20, rc::gen::container<std::string>(rc::gen::arbitrary<char>()));
      s.name = *rc::gen::resize(
          80, rc::gen::container<std::string>(rc::gen::arbitrary<char>()));
      s.date_sec = *rc::gen::arbitrary<uint32_t>();
      s.date_nsec = *rc::gen::arbitrary<uint32_t>();
      s.vm_clock_nsec = *rc::gen::arbitrary<uint64_t>();
      const size_t extra = *rc::gen::oneOf(
          rc::gen::element(size_t{0}, size_t{8}, size_t{16}, size_t{24}),
          rc::gen::inRange<size_t>(0, kMaxSnapshotExtraData + 1));
      s.extra = *rc::gen::container<std::vector<uint8_t>>(
          extra, rc::gen::arbitrary<uint8_t>());
      auto be64 = [&](size_t at8) {
        uint64_t v = 0;
        for (size_t k = 0; k < 8; ++k) v = (v << 8) | s.extra[at8 + k];
        return v;
      };
      s.vm_state_size = extra >= 8 ? be64(0) : *rc::gen::arbitrary<uint32_t>();
      if (extra >= 16) s.disk_size = be64(8);
      if (extra >= 24) s.icount = be64(16);
      s.entry_offset = at;
      at += (40 + extra + s.id.size() + s.name.size() + 7) & ~size_t{7};
      all.push_back(s);
    }
    return all;
  });
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
        x.icount != y.icount || x.extra != y.extra ||
        x.entry_offset != y.entry_offset)
      return false;
  }
  return true;
}

RC_GTEST_PROP(SnapshotTableProperty, ParseOfSerializeIsIdentity, ()) {
  QCOW2_SPEC("Q2.SNAP.entry_layout");
  const uint64_t table_offset = 65536 * *rc::gen::inRange<uint64_t>(1, 1 << 20);
  const std::vector<Snapshot> s = *GenSnapshots(table_offset);
  const std::vector<uint8_t> bytes = SerializeSnapshotTable(s);
  auto parsed =
      ParseSnapshotTable(bytes.data(), bytes.size(),
                         static_cast<uint32_t>(s.size()), table_offset);
  RC_ASSERT(parsed.ok());
  RC_ASSERT(SameSnapshots(*parsed, s));
}

RC_GTEST_PROP(SnapshotTableProperty, SerializeOfParseIsIdentity, ()) {
  QCOW2_SPEC("Q2.SNAP.entry_layout");
  const std::vector<Snapshot> s = *GenSnapshots(0x30000);
  // Entries laid out by hand. The 32-bit vm_state_size field holds the
  // size when it fits and 0 otherwise (the 64-bit extra field rules).
  std::vector<uint8_t> x;
  for (const Snapshot& e : s) {
    const size_t at = x.size();
    PutBe(x, at, e.l1_table_offset, 8);
    PutBe(x, at + 8, e.l1_size, 4);
    PutBe(x, at + 12, e.id.size(), 2);
    PutBe(x, at + 14, e.name.size(), 2);
    PutBe(x, at + 16, e.date_sec, 4);
    PutBe(x, at + 20, e.date_nsec, 4);
    PutBe(x, at + 24, e.vm_clock_nsec, 8);
    PutBe(x, at + 32, e.vm_state_size > 0xffffffffull ? 0 : e.vm_state_size, 4);
    PutBe(x, at + 36, e.extra.size(), 4);
    x.insert(x.end(), e.extra.begin(), e.extra.end());
    x.insert(x.end(), e.id.begin(), e.id.end());
    x.insert(x.end(), e.name.begin(), e.name.end());
    x.resize((x.size() + 7) & ~size_t{7}, 0);
  }
  auto parsed = ParseSnapshotTable(x.data(), x.size(),
                                   static_cast<uint32_t>(s.size()), 0x30000);
  RC_ASSERT(parsed.ok());
  RC_ASSERT(SerializeSnapshotTable(*parsed) == x);
}

}  // namespace
}  // namespace qcow2ref
