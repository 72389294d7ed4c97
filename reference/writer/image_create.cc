// ImageWriter::Create: the initial layout, as QEMU lays it out
// (spec-facts 4): header, refcount table, refcount blocks, L1 table, LUKS
// area, then (raw external data file only) preallocated L2 tables.
#include <cstring>

#include "reference/crypto/luks_unlock.h"
#include "reference/format/extensions.h"
#include "reference/format/limits.h"
#include "reference/format/refcount.h"
#include "reference/status/checked_math.h"
#include "reference/status/endian.h"
#include "reference/writer/image_writer.h"
#include "reference/writer/luks_create.h"
#include "reference/writer/random_source.h"

namespace qcow2ref {
namespace {

std::vector<FeatureName> QemuFeatureTable() {
  return {{0, 0, "dirty bit"},
          {0, 1, "corrupt bit"},
          {0, 2, "external data file"},
          {0, 3, "compression type"},
          {0, 4, "extended L2 entries"},
          {1, 0, "lazy refcounts"},
          {2, 0, "bitmaps"},
          {2, 1, "raw external data"}};
}

}  // namespace

Result<std::unique_ptr<ImageWriter>> ImageWriter::Create(
    std::unique_ptr<ByteStore> store, const CreateOptions& o,
    WriterOptions wo) {
  QCOW2REF_RETURN_IF_ERROR(ValidateCreateOptions(o));
  if (o.encryption != Encryption::kNone && wo.secret == nullptr) {
    return MissingSecretError("Q2.ENC.payload");
  }
  if (!o.data_file.empty() && !wo.data_file) {
    return UsageError("the external data file must be opened by the caller");
  }
  if (store->Size() != 0) return UsageError("the target is not empty");
  Header h;
  h.version = o.version;
  h.cluster_bits = o.cluster_bits;
  // SPEC(Q2.HDR.size.sector_multiple): sizes are rounded up to a sector,
  // as QEMU's create does.
  h.size = DivRoundUp(o.size, 512) * 512;
  h.refcount_order = o.refcount_order;
  h.header_length =
      o.version == 2 ? kV2HeaderLength : kV3HeaderLengthWithCompression;
  h.trailing.assign(o.version == 2 ? 0 : 7, 0);
  h.compression_type = o.compression_type;
  if (o.compression_type != 0)
    h.incompatible_features |= kIncompatCompressionType;
  if (o.extended_l2) h.incompatible_features |= kIncompatExtendedL2;
  if (!o.data_file.empty()) h.incompatible_features |= kIncompatDataFile;
  if (o.data_file_raw) h.autoclear_features |= kAutoclearRawDataFile;
  if (o.lazy_refcounts) h.compatible_features |= kCompatLazyRefcounts;
  h.crypt_method = o.encryption == Encryption::kAes    ? CryptMethod::kAes
                   : o.encryption == Encryption::kLuks ? CryptMethod::kLuks
                                                       : CryptMethod::kNone;
  const Geometry g = Geometry::FromHeader(h);
  const uint64_t cs = g.cluster_size;

  // LUKS area first: its size shapes the layout.
  LuksArea luks;
  if (o.encryption == Encryption::kLuks) {
    LuksCreateOptions lo;
    QCOW2REF_ASSIGN_OR_RETURN(lo.suite, ParseCipherSpec(o.luks_cipher));
    lo.hash = o.luks_hash;
    lo.slot_iterations = o.luks_iterations;
    lo.digest_iterations = o.luks_iterations;
    lo.iter_time_ms = o.luks_iter_time_ms;
    const RandomFill random = o.deterministic_seed
                                  ? DeterministicRandom(*o.deterministic_seed)
                                  : OsRandom();
    QCOW2REF_ASSIGN_OR_RETURN(luks, CreateLuksArea(lo, *wo.secret, random));
  }
  const uint64_t l1_size = DivRoundUp(h.size, g.bytes_per_l2_table());
  if (l1_size * 8 > kMaxL1TableBytes) {
    return UsageError(
        "QX.LIMIT.l1_size",
        "the L1 table for this size would exceed 32 MiB: use larger "
        "clusters");
  }
  h.l1_size = static_cast<uint32_t>(l1_size);
  const uint64_t l1_clusters =
      std::max<uint64_t>(1, DivRoundUp(l1_size * 8, cs));
  const uint64_t luks_clusters = DivRoundUp(luks.bytes.size(), cs);
  const uint64_t raw_tables = o.data_file_raw ? l1_size : 0;
  const uint64_t per_block = (cs * 8) >> o.refcount_order;
  const uint64_t fixed = 1 + l1_clusters + luks_clusters + raw_tables;
  uint64_t blocks = 1, rt_clusters = 1;
  for (int i = 0; i < 8; ++i) {
    const uint64_t total = fixed + blocks + rt_clusters;
    blocks = DivRoundUp(total, per_block);
    rt_clusters = DivRoundUp(blocks * 8, cs);
  }
  h.refcount_table_offset = cs;
  h.refcount_table_clusters = static_cast<uint32_t>(rt_clusters);
  const uint64_t blocks_at = cs * (1 + rt_clusters);
  h.l1_table_offset = blocks_at + blocks * cs;
  const uint64_t luks_at = h.l1_table_offset + l1_clusters * cs;
  const uint64_t tables_at = luks_at + luks_clusters * cs;
  const uint64_t total = (tables_at >> g.cluster_bits) + raw_tables;

  // Cluster 0: header, extensions, backing file name.
  Extensions ext;
  if (!o.backing_format.empty()) ext.backing_format = o.backing_format;
  if (!o.data_file.empty()) ext.data_file = o.data_file;
  if (o.encryption == Encryption::kLuks) {
    // SPEC(Q2.FDE.length_full_area): the whole LUKS area, as QEMU writes.
    ext.fde = FdePointer{luks_at, luks.bytes.size()};
  }
  if (o.version >= 3 && cs > 4096) {
    ext.has_feature_table = true;
    ext.feature_names = QemuFeatureTable();
  }
  std::vector<uint8_t> cluster0(cs, 0);
  const std::vector<uint8_t> ext_bytes = SerializeExtensions(ext);
  const uint64_t name_at = h.header_length + ext_bytes.size();
  if (!o.backing_file.empty()) {
    h.backing_file_offset = name_at;
    h.backing_file_size = static_cast<uint32_t>(o.backing_file.size());
  }
  if (name_at + o.backing_file.size() > cs) {
    return UsageError(
        "the header, extensions and backing name do not fit "
        "in one cluster: use larger clusters");
  }
  const std::vector<uint8_t> hb = SerializeHeader(h);
  std::memcpy(cluster0.data(), hb.data(), hb.size());
  std::memcpy(cluster0.data() + h.header_length, ext_bytes.data(),
              ext_bytes.size());
  std::memcpy(cluster0.data() + name_at, o.backing_file.data(),
              o.backing_file.size());

  // Refcount table and blocks: every cluster of the layout has refcount 1.
  std::vector<uint8_t> rt(rt_clusters * cs, 0);
  std::vector<uint8_t> rb(blocks * cs, 0);
  for (uint64_t b = 0; b < blocks; ++b)
    StoreBe64(rt.data() + 8 * b, blocks_at + b * cs);
  for (uint64_t c = 0; c < total; ++c) {
    qcow2ref::SetRefcount(rb.data() + (c / per_block) * cs, c % per_block,
                          o.refcount_order, 1);
  }
  std::vector<uint8_t> l1(l1_clusters * cs, 0);
  std::vector<uint8_t> tables(raw_tables * cs, 0);
  if (o.data_file_raw) {
    // SPEC(Q2.XDF.host_equals_guest): every guest cluster maps 1:1.
    for (uint64_t t = 0; t < raw_tables; ++t) {
      StoreBe64(l1.data() + 8 * t, kEntryCopied | (tables_at + t * cs));
      for (uint64_t i = 0; i < g.l2_entries; ++i) {
        const uint64_t guest = (t * g.l2_entries + i) * cs;
        if (guest >= h.size) break;
        StoreBe64(tables.data() + t * cs + i * g.l2_entry_bytes,
                  kEntryCopied | guest);
        if (g.extended_l2) {
          StoreBe64(tables.data() + t * cs + i * g.l2_entry_bytes + 8,
                    0x00000000ffffffffull);
        }
      }
    }
  }
  // Everything but the header first; the header last
  // (QX.WRITE.order_header_last).
  QCOW2REF_RETURN_IF_ERROR(store->WriteAt(cs, rt.data(), rt.size()));
  QCOW2REF_RETURN_IF_ERROR(store->WriteAt(blocks_at, rb.data(), rb.size()));
  // Only the L1 table's own sectors: the rest of its cluster reads as
  // zeros anyway, and an empty image then has the size qemu-img gives it.
  const uint64_t l1_bytes =
      std::max<uint64_t>(512, DivRoundUp(uint64_t{h.l1_size} * 8, 512) * 512);
  QCOW2REF_RETURN_IF_ERROR(store->WriteAt(
      h.l1_table_offset, l1.data(), std::min<uint64_t>(l1_bytes, l1.size())));
  if (!luks.bytes.empty()) {
    std::vector<uint8_t> area(luks_clusters * cs, 0);
    std::memcpy(area.data(), luks.bytes.data(), luks.bytes.size());
    QCOW2REF_RETURN_IF_ERROR(store->WriteAt(luks_at, area.data(), area.size()));
  }
  if (!tables.empty()) {
    QCOW2REF_RETURN_IF_ERROR(
        store->WriteAt(tables_at, tables.data(), tables.size()));
  }
  QCOW2REF_RETURN_IF_ERROR(store->Flush());
  // SPEC(QX.WRITE.order_header_last)
  QCOW2REF_RETURN_IF_ERROR(store->WriteAt(0, cluster0.data(), cluster0.size()));
  QCOW2REF_RETURN_IF_ERROR(store->Flush());
  // The external data file spans the virtual size, raw or not, as
  // qemu-img create makes it (create_vs_qemu_test compares the two).
  if (wo.data_file) {
    const uint8_t zero = 0;
    if (wo.data_file->Size() < h.size) {
      QCOW2REF_RETURN_IF_ERROR(wo.data_file->WriteAt(h.size - 1, &zero, 1));
    }
  }
  return Open(std::move(store), std::move(wo));
}

}  // namespace qcow2ref
