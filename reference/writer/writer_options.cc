#include "reference/writer/writer_options.h"

#include "reference/crypto/hashes.h"
#include "reference/crypto/sector_cipher.h"
#include "reference/format/limits.h"

namespace qcow2ref {
namespace {

Error Bad(const char* clause, const std::string& message) {
  return UsageError(clause, message);
}

}  // namespace

Status ValidateCreateOptions(const CreateOptions& o) {
  // SPEC(QX.WRITE.validate_first)
  if (o.size == 0) return Bad("QX.WRITE.validate_first", "size must be > 0");
  if (o.size > kMaxVirtualSize) {
    return Bad("QX.LIMIT.virtual_size", "size exceeds 2^63 - 1");
  }
  if (o.version != 2 && o.version != 3) {
    return Bad("Q2.HDR.version", "version must be 2 or 3");
  }
  if (o.cluster_bits < 9) {
    return Bad("Q2.HDR.cluster_bits.min",
               "cluster size must be a power of two from 512 to 2 MiB");
  }
  if (o.cluster_bits > kMaxClusterBits) {  // SPEC(QX.LIMIT.cluster_bits_max)
    return Bad("QX.LIMIT.cluster_bits_max",
               "cluster size must be a power of two from 512 to 2 MiB");
  }
  if (o.refcount_order > 6) {
    return Bad("Q2.HDRV3.refcount_order.max", "refcount bits must be 1..64");
  }
  const bool v3_feature = o.refcount_order != 4 || o.extended_l2 ||
                          o.compression_type != 0 || o.lazy_refcounts ||
                          !o.data_file.empty() || o.data_file_raw;
  if (o.version == 2 && v3_feature) {
    return Bad("Q2.HDR.v2_length",
               "version 2 images have 16-bit refcounts and no extended L2, "
               "zstd, lazy refcounts or external data file");
  }
  if (o.extended_l2 && o.cluster_bits < 14) {
    return Bad("Q2.XL2.cluster_bits",
               "extended L2 entries need clusters of at least 16 KiB");
  }
  if (o.compression_type > 1) {
    return Bad("Q2.HDRV3.compression_type.known",
               "compression type must be zlib or zstd");
  }
  if (o.backing_file.size() > kMaxBackingFileNameLength) {
    return Bad("Q2.HDR.backing_file_size.max",
               "backing file name longer than 1023 bytes");
  }
  if (!o.backing_format.empty() && o.backing_format != "raw" &&
      o.backing_format != "qcow2") {
    return Bad("Q2.EXT.backing_format.values",
               "backing format must be raw or qcow2");
  }
  if (!o.backing_format.empty() && o.backing_file.empty()) {
    return Bad("QX.WRITE.validate_first",
               "backing format without a backing file");
  }
  if (o.data_file_raw && o.data_file.empty()) {
    return Bad("Q2.HDRV3.autoclear.raw_requires_xdf",
               "--data-file-raw needs --data-file");
  }
  if (o.data_file_raw && !o.backing_file.empty()) {
    return Bad("Q2.XDF.raw_no_backing",
               "a raw external data file cannot have a backing file");
  }
  if (o.encryption == Encryption::kLuks) {
    auto suite = ParseCipherSpec(o.luks_cipher);
    if (!suite.ok()) {
      return Bad("L1.PHDR.cipher_name", "unsupported LUKS cipher '" +
                                            o.luks_cipher +
                                            "': " + suite.error().message);
    }
    if (!IsKnownHash(o.luks_hash)) {
      return Bad("L1.PHDR.hash_spec", "unknown hash '" + o.luks_hash + "'");
    }
  }
  return OkStatus();
}

}  // namespace qcow2ref
