// The qcow2 header, field by field, in the order the specification lays it
// out (Q2.HDR.big_endian: every integer is big-endian). Version 2 headers
// end after snapshots_offset (Q2.HDR.v2_length); version 3 adds the fields
// from incompatible_features on, and compression_type when header_length
// leaves room for it (Q2.HDRV3.additional_fields.zero_is_absent).
#ifndef QCOW2REF_REFERENCE_FORMAT_HEADER_FIELDS_H_
#define QCOW2REF_REFERENCE_FORMAT_HEADER_FIELDS_H_

#include "reference/format/field.h"

namespace qcow2ref {

// The header starts the file; errors about the header as a whole point
// here.
inline constexpr uint64_t kHeaderStart = 0;

struct HeaderField {
  // Identifies the file as qcow2.
  static constexpr Field kMagic{"magic", 0, 4, "Q2.HDR.magic"};
  // 2 or 3.
  static constexpr Field kVersion{"version", 4, 4, "Q2.HDR.version"};
  // Where the backing file's name starts in cluster 0; 0 for none.
  static constexpr Field kBackingFileOffset{
      "backing_file_offset", 8, 8, "Q2.HDR.backing_file_offset.in_cluster0"};
  // Length of that name in bytes, without a terminator.
  static constexpr Field kBackingFileSize{"backing_file_size", 16, 4,
                                          "Q2.HDR.backing_file_size.max"};
  // log2 of the cluster size.
  static constexpr Field kClusterBits{"cluster_bits", 20, 4,
                                      "Q2.HDR.cluster_bits.min"};
  // The guest disk's size in bytes.
  static constexpr Field kSize{"size", 24, 8, "Q2.HDR.size.sector_multiple"};
  // 0 plain, 1 legacy AES, 2 LUKS.
  static constexpr Field kCryptMethod{"crypt_method", 32, 4,
                                      "Q2.HDR.crypt_method.known"};
  // Entries in the active L1 table.
  static constexpr Field kL1Size{"l1_size", 36, 4,
                                 "Q2.HDR.l1_size.covers_size"};
  // Host offset of the active L1 table.
  static constexpr Field kL1TableOffset{"l1_table_offset", 40, 8,
                                        "Q2.HDR.l1_table_offset.aligned"};
  // Host offset of the refcount table.
  static constexpr Field kRefcountTableOffset{
      "refcount_table_offset", 48, 8, "Q2.HDR.refcount_table_offset.aligned"};
  // Clusters the refcount table spans.
  static constexpr Field kRefcountTableClusters{
      "refcount_table_clusters", 56, 4,
      "Q2.HDR.refcount_table_clusters.nonzero"};
  // Entries in the snapshot table.
  static constexpr Field kNbSnapshots{"nb_snapshots", 60, 4,
                                      "QX.LIMIT.snapshot_count"};
  // Host offset of the snapshot table.
  static constexpr Field kSnapshotsOffset{"snapshots_offset", 64, 8,
                                          "Q2.HDR.snapshots_offset.aligned"};
  // Version 3 from here on.
  // Feature bits a reader must understand to open the image.
  static constexpr Field kIncompatibleFeatures{
      "incompatible_features", 72, 8, "Q2.HDRV3.incompat.unknown_fail"};
  // Feature bits a reader may ignore.
  static constexpr Field kCompatibleFeatures{"compatible_features", 80, 8,
                                             "Q2.HDRV3.compat.unknown_ignore"};
  // Feature bits a writer that does not know them clears.
  static constexpr Field kAutoclearFeatures{
      "autoclear_features", 88, 8, "Q2.HDRV3.autoclear.unknown_ignore"};
  // log2 of the refcount width in bits.
  static constexpr Field kRefcountOrder{"refcount_order", 96, 4,
                                        "Q2.HDRV3.refcount_order.max"};
  // Bytes of header; header extensions start right after.
  static constexpr Field kHeaderLength{"header_length", 100, 4,
                                       "Q2.HDRV3.header_length.min"};
  // The first optional field: 0 deflate, 1 zstd.
  static constexpr Field kCompressionType{"compression_type", 104, 1,
                                          "Q2.HDRV3.compression_type.known"};
};

// Every header field in on-disk order.
inline constexpr Field kHeaderFields[] = {
    HeaderField::kMagic,
    HeaderField::kVersion,
    HeaderField::kBackingFileOffset,
    HeaderField::kBackingFileSize,
    HeaderField::kClusterBits,
    HeaderField::kSize,
    HeaderField::kCryptMethod,
    HeaderField::kL1Size,
    HeaderField::kL1TableOffset,
    HeaderField::kRefcountTableOffset,
    HeaderField::kRefcountTableClusters,
    HeaderField::kNbSnapshots,
    HeaderField::kSnapshotsOffset,
    HeaderField::kIncompatibleFeatures,
    HeaderField::kCompatibleFeatures,
    HeaderField::kAutoclearFeatures,
    HeaderField::kRefcountOrder,
    HeaderField::kHeaderLength,
    HeaderField::kCompressionType,
};

// The fields every version has: the first 13.
inline constexpr int kHeaderV2FieldCount = 13;

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_FORMAT_HEADER_FIELDS_H_
