#include "reference/format/header.h"

#include <cstdio>
#include <string>

#include "reference/format/field.h"
#include "reference/format/header_fields.h"
#include "reference/format/limits.h"
#include "reference/status/checked_math.h"

namespace qcow2ref {
namespace {

using F = HeaderField;

// Bytes after the last field this reader knows, up to header_length, are
// kept verbatim (Header::trailing).
constexpr size_t kTrailingStart = F::kCompressionType.end();

std::string Hex(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

// Rules that relate header fields to each other and to QEMU's limits.
Status ValidateHeader(const Header& h) {
  const uint64_t cluster_size = h.cluster_size();
  if (h.version >= 3) {
    // SPEC(Q2.HDRV3.header_length.min)
    if (h.header_length < kV3MinHeaderLength) {
      return Rejected(
          "Q2.HDRV3.header_length.min", F::kHeaderLength.offset,
          "header_length " + std::to_string(h.header_length) + " is below 104");
    }
    // SPEC(Q2.HDRV3.header_length.in_cluster)
    if (h.header_length > cluster_size) {
      return Rejected("Q2.HDRV3.header_length.in_cluster",
                      F::kHeaderLength.offset,
                      "header_length " + std::to_string(h.header_length) +
                          " exceeds the cluster size");
    }
    // SPEC(Q2.HDRV3.header_length.multiple_of_8)
    if (h.header_length % 8 != 0) {
      return Rejected("Q2.HDRV3.header_length.multiple_of_8",
                      F::kHeaderLength.offset,
                      "header_length " + std::to_string(h.header_length) +
                          " is not a multiple of 8");
    }
    // SPEC(Q2.HDRV3.incompat.unknown_fail)
    const uint64_t unknown = h.incompatible_features & ~kIncompatKnownMask;
    if (unknown != 0) {
      return Unsupported("Q2.HDRV3.incompat.unknown_fail",
                         F::kIncompatibleFeatures.offset,
                         "unknown incompatible feature bit " +
                             std::to_string(__builtin_ctzll(unknown)) +
                             " set (mask " + Hex(unknown) + ")");
    }
    // SPEC(Q2.HDRV3.compat.unknown_ignore): compatible bits are not checked.
    // SPEC(Q2.HDRV3.autoclear.unknown_ignore): nor are autoclear bits (a
    // reader never writes, so it never has to clear them).
    // SPEC(Q2.HDRV3.refcount_order.max)
    if (h.refcount_order > 6) {
      return Rejected("Q2.HDRV3.refcount_order.max", F::kRefcountOrder.offset,
                      "refcount_order " + std::to_string(h.refcount_order) +
                          " exceeds 6 (64-bit refcounts)");
    }
    // SPEC(Q2.HDRV3.compression_type.known)
    if (h.compression_type > 1) {
      return Unsupported(
          "Q2.HDRV3.compression_type.known", F::kCompressionType.offset,
          "unknown compression type " + std::to_string(h.compression_type));
    }
    // SPEC(Q2.HDRV3.compression_type.bit_iff_nonzero)
    const bool bit = (h.incompatible_features & kIncompatCompressionType) != 0;
    if (bit != (h.compression_type != 0)) {
      return Rejected("Q2.HDRV3.compression_type.bit_iff_nonzero",
                      F::kIncompatibleFeatures.offset,
                      bit ? "compression type bit set with compression_type 0"
                          : "compression_type " +
                                std::to_string(h.compression_type) +
                                " without the compression type bit");
    }
    // SPEC(Q2.XL2.cluster_bits)
    if (h.extended_l2() && h.cluster_bits < 14) {
      return Rejected("Q2.XL2.cluster_bits", F::kClusterBits.offset,
                      "extended L2 entries need clusters of at least 16 KiB "
                      "(cluster_bits " +
                          std::to_string(h.cluster_bits) + ")");
    }
    // SPEC(Q2.HDRV3.autoclear.raw_requires_xdf)
    if ((h.autoclear_features & kAutoclearRawDataFile) != 0 &&
        !h.has_data_file()) {
      return Rejected("Q2.HDRV3.autoclear.raw_requires_xdf",
                      F::kAutoclearFeatures.offset,
                      "raw external data bit set without the external data "
                      "file bit");
    }
  }
  // SPEC(Q2.HDR.crypt_method.known)
  if (static_cast<uint32_t>(h.crypt_method) > 2) {
    return Rejected("Q2.HDR.crypt_method.known", F::kCryptMethod.offset,
                    "unknown crypt_method " +
                        std::to_string(static_cast<uint32_t>(h.crypt_method)));
  }
  if (h.backing_file_offset != 0) {
    // SPEC(Q2.HDR.backing_file_size.max)
    if (h.backing_file_size > kMaxBackingFileNameLength) {
      return Rejected(
          "Q2.HDR.backing_file_size.max", F::kBackingFileSize.offset,
          "backing file name of " + std::to_string(h.backing_file_size) +
              " bytes exceeds 1023");
    }
    // SPEC(Q2.HDR.backing_file_offset.in_cluster0)
    if (h.backing_file_offset < h.header_length ||
        !RangeWithin(h.backing_file_offset, h.backing_file_size,
                     cluster_size)) {
      return Rejected("Q2.HDR.backing_file_offset.in_cluster0",
                      F::kBackingFileOffset.offset,
                      "backing file name at " + Hex(h.backing_file_offset) +
                          " is not between the header's end and the end of "
                          "cluster 0");
    }
  }
  // SPEC(QX.LIMIT.virtual_size)
  if (h.size > kMaxVirtualSize) {
    return Rejected(
        "QX.LIMIT.virtual_size", F::kSize.offset,
        "virtual size " + std::to_string(h.size) + " exceeds 2^63-1");
  }
  // SPEC(Q2.HDR.l1_table_offset.aligned)
  if (h.l1_table_offset % cluster_size != 0) {
    return Rejected("Q2.HDR.l1_table_offset.aligned", F::kL1TableOffset.offset,
                    "L1 table offset " + Hex(h.l1_table_offset) +
                        " is not cluster aligned");
  }
  // SPEC(QX.LIMIT.l1_size)
  if (uint64_t{h.l1_size} * 8 > kMaxL1TableBytes) {
    return Rejected("QX.LIMIT.l1_size", F::kL1Size.offset,
                    "L1 table of " + std::to_string(h.l1_size) +
                        " entries exceeds the 32 MiB limit");
  }
  const uint64_t entry_bytes = h.extended_l2() ? 16 : 8;
  const uint64_t bytes_per_l1_entry =
      cluster_size * (cluster_size / entry_bytes);
  // SPEC(Q2.HDR.l1_size.covers_size)
  if (DivRoundUp(h.size, bytes_per_l1_entry) > h.l1_size) {
    return Rejected("Q2.HDR.l1_size.covers_size", F::kL1Size.offset,
                    "L1 table of " + std::to_string(h.l1_size) +
                        " entries cannot map a virtual size of " +
                        std::to_string(h.size));
  }
  // SPEC(Q2.HDR.refcount_table_offset.aligned)
  if (h.refcount_table_offset % cluster_size != 0) {
    return Rejected("Q2.HDR.refcount_table_offset.aligned",
                    F::kRefcountTableOffset.offset,
                    "refcount table offset " + Hex(h.refcount_table_offset) +
                        " is not cluster aligned");
  }
  // SPEC(Q2.HDR.refcount_table_clusters.nonzero)
  if (h.refcount_table_clusters == 0) {
    return Rejected("Q2.HDR.refcount_table_clusters.nonzero",
                    F::kRefcountTableClusters.offset,
                    "the image has no refcount table");
  }
  // SPEC(QX.LIMIT.refcount_table_size)
  if (uint64_t{h.refcount_table_clusters} * cluster_size >
      kMaxRefcountTableBytes) {
    return Rejected(
        "QX.LIMIT.refcount_table_size", F::kRefcountTableClusters.offset,
        "refcount table of " + std::to_string(h.refcount_table_clusters) +
            " clusters exceeds the 8 MiB limit");
  }
  // SPEC(Q2.HDR.snapshots_offset.aligned)
  if (h.snapshots_offset % cluster_size != 0) {
    return Rejected("Q2.HDR.snapshots_offset.aligned",
                    F::kSnapshotsOffset.offset,
                    "snapshot table offset " + Hex(h.snapshots_offset) +
                        " is not cluster aligned");
  }
  // SPEC(QX.LIMIT.snapshot_count)
  if (h.nb_snapshots > kMaxSnapshots) {
    return Rejected("QX.LIMIT.snapshot_count", F::kNbSnapshots.offset,
                    std::to_string(h.nb_snapshots) +
                        " snapshots exceed the limit of 65536");
  }
  return OkStatus();
}

}  // namespace

bool Header::operator==(const Header& o) const {
  return magic == o.magic && version == o.version &&
         backing_file_offset == o.backing_file_offset &&
         backing_file_size == o.backing_file_size &&
         cluster_bits == o.cluster_bits && size == o.size &&
         crypt_method == o.crypt_method && l1_size == o.l1_size &&
         l1_table_offset == o.l1_table_offset &&
         refcount_table_offset == o.refcount_table_offset &&
         refcount_table_clusters == o.refcount_table_clusters &&
         nb_snapshots == o.nb_snapshots &&
         snapshots_offset == o.snapshots_offset &&
         incompatible_features == o.incompatible_features &&
         compatible_features == o.compatible_features &&
         autoclear_features == o.autoclear_features &&
         refcount_order == o.refcount_order &&
         header_length == o.header_length &&
         compression_type == o.compression_type && trailing == o.trailing;
}

Result<Header> ParseHeader(const uint8_t* p, size_t length) {
  // SPEC(Q2.HDR.magic)
  if (length < F::kVersion.end() ||
      LoadField<uint32_t>(p, F::kMagic) != kQcow2Magic) {
    return Rejected("Q2.HDR.magic", F::kMagic.offset,
                    "not a qcow2 image (bad magic)");
  }
  Header h;
  h.magic = LoadField<uint32_t>(p, F::kMagic);
  h.version = LoadField<uint32_t>(p, F::kVersion);
  // SPEC(Q2.HDR.version)
  if (h.version != 2 && h.version != 3) {
    return Unsupported(
        "Q2.HDR.version", F::kVersion.offset,
        "unsupported qcow2 version " + std::to_string(h.version));
  }
  // SPEC(Q2.HDR.v2_length)
  if (length < kV2HeaderLength) {
    return Rejected("Q2.HDR.v2_length", kHeaderStart,
                    "file shorter than a qcow2 header");
  }
  // SPEC(Q2.HDR.big_endian): every field below is big-endian.
  h.backing_file_offset = LoadField(p, F::kBackingFileOffset);
  h.backing_file_size = LoadField<uint32_t>(p, F::kBackingFileSize);
  h.cluster_bits = LoadField<uint32_t>(p, F::kClusterBits);
  h.size = LoadField(p, F::kSize);
  h.crypt_method =
      static_cast<CryptMethod>(LoadField<uint32_t>(p, F::kCryptMethod));
  h.l1_size = LoadField<uint32_t>(p, F::kL1Size);
  h.l1_table_offset = LoadField(p, F::kL1TableOffset);
  h.refcount_table_offset = LoadField(p, F::kRefcountTableOffset);
  h.refcount_table_clusters = LoadField<uint32_t>(p, F::kRefcountTableClusters);
  h.nb_snapshots = LoadField<uint32_t>(p, F::kNbSnapshots);
  h.snapshots_offset = LoadField(p, F::kSnapshotsOffset);
  // SPEC(Q2.HDR.cluster_bits.min)
  if (h.cluster_bits < 9) {
    return Rejected(
        "Q2.HDR.cluster_bits.min", F::kClusterBits.offset,
        "cluster_bits " + std::to_string(h.cluster_bits) + " is below 9");
  }
  // SPEC(QX.LIMIT.cluster_bits_max)
  if (h.cluster_bits > kMaxClusterBits) {
    return Unsupported("QX.LIMIT.cluster_bits_max", F::kClusterBits.offset,
                       "cluster_bits " + std::to_string(h.cluster_bits) +
                           " exceeds 21 (2 MiB clusters)");
  }
  if (h.version == 2) {
    h.refcount_order = 4;
    h.header_length = kV2HeaderLength;
  } else {
    if (length < kV3MinHeaderLength) {
      return Rejected("Q2.HDRV3.header_length.min", kHeaderStart,
                      "file shorter than a version 3 header");
    }
    h.incompatible_features = LoadField(p, F::kIncompatibleFeatures);
    h.compatible_features = LoadField(p, F::kCompatibleFeatures);
    h.autoclear_features = LoadField(p, F::kAutoclearFeatures);
    h.refcount_order = LoadField<uint32_t>(p, F::kRefcountOrder);
    h.header_length = LoadField<uint32_t>(p, F::kHeaderLength);
    // SPEC(Q2.HDRV3.additional_fields.zero_is_absent)
    if (h.header_length >= F::kCompressionType.end() &&
        length >= F::kCompressionType.end()) {
      h.compression_type = LoadField<uint8_t>(p, F::kCompressionType);
    }
    if (h.header_length > kTrailingStart &&
        h.header_length <= h.cluster_size() && h.header_length <= length) {
      h.trailing.assign(p + kTrailingStart, p + h.header_length);
    }
  }
  QCOW2REF_RETURN_IF_ERROR(ValidateHeader(h));
  if (h.header_length > length) {
    return Rejected("Q2.HDRV3.header_length.in_cluster",
                    F::kHeaderLength.offset,
                    "header_length goes past the end of the file");
  }
  return h;
}

std::vector<uint8_t> SerializeHeader(const Header& h) {
  const size_t len = h.version == 2 ? kV2HeaderLength : h.header_length;
  std::vector<uint8_t> out(std::max<size_t>(len, kV2HeaderLength), 0);
  uint8_t* p = out.data();
  StoreField(p, F::kMagic, h.magic);
  StoreField(p, F::kVersion, h.version);
  StoreField(p, F::kBackingFileOffset, h.backing_file_offset);
  StoreField(p, F::kBackingFileSize, h.backing_file_size);
  StoreField(p, F::kClusterBits, h.cluster_bits);
  StoreField(p, F::kSize, h.size);
  StoreField(p, F::kCryptMethod, static_cast<uint32_t>(h.crypt_method));
  StoreField(p, F::kL1Size, h.l1_size);
  StoreField(p, F::kL1TableOffset, h.l1_table_offset);
  StoreField(p, F::kRefcountTableOffset, h.refcount_table_offset);
  StoreField(p, F::kRefcountTableClusters, h.refcount_table_clusters);
  StoreField(p, F::kNbSnapshots, h.nb_snapshots);
  StoreField(p, F::kSnapshotsOffset, h.snapshots_offset);
  if (h.version >= 3 && out.size() >= kV3MinHeaderLength) {
    StoreField(p, F::kIncompatibleFeatures, h.incompatible_features);
    StoreField(p, F::kCompatibleFeatures, h.compatible_features);
    StoreField(p, F::kAutoclearFeatures, h.autoclear_features);
    StoreField(p, F::kRefcountOrder, h.refcount_order);
    StoreField(p, F::kHeaderLength, h.header_length);
    if (out.size() >= F::kCompressionType.end()) {
      StoreField(p, F::kCompressionType, h.compression_type);
    }
    for (size_t i = 0; i < h.trailing.size() && kTrailingStart + i < out.size();
         ++i) {
      p[kTrailingStart + i] = h.trailing[i];
    }
  }
  return out;
}

uint64_t GuestSize(const Header& h) {
  // SPEC(Q2.HDR.size.sector_multiple): QEMU exposes size / 512 sectors.
  return h.size & ~uint64_t{511};
}

}  // namespace qcow2ref
