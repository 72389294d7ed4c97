#include "reference/format/header.h"

#include <cstdio>
#include <string>

#include "reference/format/endian.h"
#include "reference/format/limits.h"
#include "reference/status/checked_math.h"

namespace qcow2ref {
namespace {

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
          "Q2.HDRV3.header_length.min", 100,
          "header_length " + std::to_string(h.header_length) + " is below 104");
    }
    // SPEC(Q2.HDRV3.header_length.in_cluster)
    if (h.header_length > cluster_size) {
      return Rejected("Q2.HDRV3.header_length.in_cluster", 100,
                      "header_length " + std::to_string(h.header_length) +
                          " exceeds the cluster size");
    }
    // SPEC(Q2.HDRV3.header_length.multiple_of_8)
    if (h.header_length % 8 != 0) {
      return Rejected("Q2.HDRV3.header_length.multiple_of_8", 100,
                      "header_length " + std::to_string(h.header_length) +
                          " is not a multiple of 8");
    }
    // SPEC(Q2.HDRV3.incompat.unknown_fail)
    const uint64_t unknown = h.incompatible_features & ~kIncompatKnownMask;
    if (unknown != 0) {
      return Unsupported("Q2.HDRV3.incompat.unknown_fail", 72,
                         "unknown incompatible feature bit " +
                             std::to_string(__builtin_ctzll(unknown)) +
                             " set (mask " + Hex(unknown) + ")");
    }
    // SPEC(Q2.HDRV3.compat.unknown_ignore): compatible bits are not checked.
    // SPEC(Q2.HDRV3.autoclear.unknown_ignore): nor are autoclear bits (a
    // reader never writes, so it never has to clear them).
    // SPEC(Q2.HDRV3.refcount_order.max)
    if (h.refcount_order > 6) {
      return Rejected("Q2.HDRV3.refcount_order.max", 96,
                      "refcount_order " + std::to_string(h.refcount_order) +
                          " exceeds 6 (64-bit refcounts)");
    }
    // SPEC(Q2.HDRV3.compression_type.known)
    if (h.compression_type > 1) {
      return Unsupported(
          "Q2.HDRV3.compression_type.known", 104,
          "unknown compression type " + std::to_string(h.compression_type));
    }
    // SPEC(Q2.HDRV3.compression_type.bit_iff_nonzero)
    const bool bit = (h.incompatible_features & kIncompatCompressionType) != 0;
    if (bit != (h.compression_type != 0)) {
      return Rejected("Q2.HDRV3.compression_type.bit_iff_nonzero", 72,
                      bit ? "compression type bit set with compression_type 0"
                          : "compression_type " +
                                std::to_string(h.compression_type) +
                                " without the compression type bit");
    }
    // SPEC(Q2.XL2.cluster_bits)
    if (h.extended_l2() && h.cluster_bits < 14) {
      return Rejected("Q2.XL2.cluster_bits", 20,
                      "extended L2 entries need clusters of at least 16 KiB "
                      "(cluster_bits " +
                          std::to_string(h.cluster_bits) + ")");
    }
    // SPEC(Q2.HDRV3.autoclear.raw_requires_xdf)
    if ((h.autoclear_features & kAutoclearRawDataFile) != 0 &&
        !h.has_data_file()) {
      return Rejected("Q2.HDRV3.autoclear.raw_requires_xdf", 88,
                      "raw external data bit set without the external data "
                      "file bit");
    }
  }
  // SPEC(Q2.HDR.crypt_method.known)
  if (h.crypt_method > 2) {
    return Rejected("Q2.HDR.crypt_method.known", 32,
                    "unknown crypt_method " + std::to_string(h.crypt_method));
  }
  if (h.backing_file_offset != 0) {
    // SPEC(Q2.HDR.backing_file_size.max)
    if (h.backing_file_size > kMaxBackingFileNameLength) {
      return Rejected("Q2.HDR.backing_file_size.max", 16,
                      "backing file name of " +
                          std::to_string(h.backing_file_size) +
                          " bytes exceeds 1023");
    }
    // SPEC(Q2.HDR.backing_file_offset.in_cluster0)
    if (h.backing_file_offset < h.header_length ||
        !RangeWithin(h.backing_file_offset, h.backing_file_size,
                     cluster_size)) {
      return Rejected("Q2.HDR.backing_file_offset.in_cluster0", 8,
                      "backing file name at " + Hex(h.backing_file_offset) +
                          " is not between the header's end and the end of "
                          "cluster 0");
    }
  }
  // SPEC(QX.LIMIT.virtual_size)
  if (h.size > kMaxVirtualSize) {
    return Rejected(
        "QX.LIMIT.virtual_size", 24,
        "virtual size " + std::to_string(h.size) + " exceeds 2^63-1");
  }
  // SPEC(Q2.HDR.l1_table_offset.aligned)
  if (h.l1_table_offset % cluster_size != 0) {
    return Rejected("Q2.HDR.l1_table_offset.aligned", 40,
                    "L1 table offset " + Hex(h.l1_table_offset) +
                        " is not cluster aligned");
  }
  // SPEC(QX.LIMIT.l1_size)
  if (uint64_t{h.l1_size} * 8 > kMaxL1TableBytes) {
    return Rejected("QX.LIMIT.l1_size", 36,
                    "L1 table of " + std::to_string(h.l1_size) +
                        " entries exceeds the 32 MiB limit");
  }
  const uint64_t entry_bytes = h.extended_l2() ? 16 : 8;
  const uint64_t bytes_per_l1_entry =
      cluster_size * (cluster_size / entry_bytes);
  // SPEC(Q2.HDR.l1_size.covers_size)
  if (DivRoundUp(h.size, bytes_per_l1_entry) > h.l1_size) {
    return Rejected("Q2.HDR.l1_size.covers_size", 36,
                    "L1 table of " + std::to_string(h.l1_size) +
                        " entries cannot map a virtual size of " +
                        std::to_string(h.size));
  }
  // SPEC(Q2.HDR.refcount_table_offset.aligned)
  if (h.refcount_table_offset % cluster_size != 0) {
    return Rejected("Q2.HDR.refcount_table_offset.aligned", 48,
                    "refcount table offset " + Hex(h.refcount_table_offset) +
                        " is not cluster aligned");
  }
  // SPEC(Q2.HDR.refcount_table_clusters.nonzero)
  if (h.refcount_table_clusters == 0) {
    return Rejected("Q2.HDR.refcount_table_clusters.nonzero", 56,
                    "the image has no refcount table");
  }
  // SPEC(QX.LIMIT.refcount_table_size)
  if (uint64_t{h.refcount_table_clusters} * cluster_size >
      kMaxRefcountTableBytes) {
    return Rejected("QX.LIMIT.refcount_table_size", 56,
                    "refcount table of " +
                        std::to_string(h.refcount_table_clusters) +
                        " clusters exceeds the 8 MiB limit");
  }
  // SPEC(Q2.HDR.snapshots_offset.aligned)
  if (h.snapshots_offset % cluster_size != 0) {
    return Rejected("Q2.HDR.snapshots_offset.aligned", 64,
                    "snapshot table offset " + Hex(h.snapshots_offset) +
                        " is not cluster aligned");
  }
  // SPEC(QX.LIMIT.snapshot_count)
  if (h.nb_snapshots > kMaxSnapshots) {
    return Rejected("QX.LIMIT.snapshot_count", 60,
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
  if (length < 8 || LoadBe32(p) != kQcow2Magic) {
    return Rejected("Q2.HDR.magic", 0, "not a qcow2 image (bad magic)");
  }
  Header h;
  h.magic = LoadBe32(p);
  h.version = LoadBe32(p + 4);
  // SPEC(Q2.HDR.version)
  if (h.version != 2 && h.version != 3) {
    return Unsupported(
        "Q2.HDR.version", 4,
        "unsupported qcow2 version " + std::to_string(h.version));
  }
  // SPEC(Q2.HDR.v2_length)
  if (length < kV2HeaderLength) {
    return Rejected("Q2.HDR.v2_length", 0, "file shorter than a qcow2 header");
  }
  // SPEC(Q2.HDR.big_endian): every field below is big-endian.
  h.backing_file_offset = LoadBe64(p + 8);
  h.backing_file_size = LoadBe32(p + 16);
  h.cluster_bits = LoadBe32(p + 20);
  h.size = LoadBe64(p + 24);
  h.crypt_method = LoadBe32(p + 32);
  h.l1_size = LoadBe32(p + 36);
  h.l1_table_offset = LoadBe64(p + 40);
  h.refcount_table_offset = LoadBe64(p + 48);
  h.refcount_table_clusters = LoadBe32(p + 56);
  h.nb_snapshots = LoadBe32(p + 60);
  h.snapshots_offset = LoadBe64(p + 64);
  // SPEC(Q2.HDR.cluster_bits.min)
  if (h.cluster_bits < 9) {
    return Rejected(
        "Q2.HDR.cluster_bits.min", 20,
        "cluster_bits " + std::to_string(h.cluster_bits) + " is below 9");
  }
  // SPEC(QX.LIMIT.cluster_bits_max)
  if (h.cluster_bits > kMaxClusterBits) {
    return Unsupported("QX.LIMIT.cluster_bits_max", 20,
                       "cluster_bits " + std::to_string(h.cluster_bits) +
                           " exceeds 21 (2 MiB clusters)");
  }
  if (h.version == 2) {
    h.refcount_order = 4;
    h.header_length = kV2HeaderLength;
  } else {
    if (length < kV3MinHeaderLength) {
      return Rejected("Q2.HDRV3.header_length.min", 0,
                      "file shorter than a version 3 header");
    }
    h.incompatible_features = LoadBe64(p + 72);
    h.compatible_features = LoadBe64(p + 80);
    h.autoclear_features = LoadBe64(p + 88);
    h.refcount_order = LoadBe32(p + 96);
    h.header_length = LoadBe32(p + 100);
    // SPEC(Q2.HDRV3.additional_fields.zero_is_absent)
    if (h.header_length > 104 && length > 104) h.compression_type = p[104];
    if (h.header_length > 105 && h.header_length <= h.cluster_size() &&
        h.header_length <= length) {
      h.trailing.assign(p + 105, p + h.header_length);
    }
  }
  QCOW2REF_RETURN_IF_ERROR(ValidateHeader(h));
  if (h.header_length > length) {
    return Rejected("Q2.HDRV3.header_length.in_cluster", 100,
                    "header_length goes past the end of the file");
  }
  return h;
}

std::vector<uint8_t> SerializeHeader(const Header& h) {
  const size_t len = h.version == 2 ? kV2HeaderLength : h.header_length;
  std::vector<uint8_t> out(std::max<size_t>(len, kV2HeaderLength), 0);
  uint8_t* p = out.data();
  StoreBe32(p, h.magic);
  StoreBe32(p + 4, h.version);
  StoreBe64(p + 8, h.backing_file_offset);
  StoreBe32(p + 16, h.backing_file_size);
  StoreBe32(p + 20, h.cluster_bits);
  StoreBe64(p + 24, h.size);
  StoreBe32(p + 32, h.crypt_method);
  StoreBe32(p + 36, h.l1_size);
  StoreBe64(p + 40, h.l1_table_offset);
  StoreBe64(p + 48, h.refcount_table_offset);
  StoreBe32(p + 56, h.refcount_table_clusters);
  StoreBe32(p + 60, h.nb_snapshots);
  StoreBe64(p + 64, h.snapshots_offset);
  if (h.version >= 3 && out.size() >= kV3MinHeaderLength) {
    StoreBe64(p + 72, h.incompatible_features);
    StoreBe64(p + 80, h.compatible_features);
    StoreBe64(p + 88, h.autoclear_features);
    StoreBe32(p + 96, h.refcount_order);
    StoreBe32(p + 100, h.header_length);
    if (out.size() > 104) p[104] = h.compression_type;
    for (size_t i = 0; i < h.trailing.size() && 105 + i < out.size(); ++i) {
      p[105 + i] = h.trailing[i];
    }
  }
  return out;
}

uint64_t GuestSize(const Header& h) {
  // SPEC(Q2.HDR.size.sector_multiple): QEMU exposes size / 512 sectors.
  return h.size & ~uint64_t{511};
}

}  // namespace qcow2ref
