// Image::Read: extents -> guest bytes (copy, zero-fill, inflate, backing).
#include <algorithm>
#include <cstring>

#include "reference/format/compression.h"
#include "reference/image/image.h"
#include "reference/status/checked_math.h"

namespace qcow2ref {
namespace {

// QX.LIMIT.compressed_input: a compressed extent is read for at most twice the
// cluster size.
constexpr uint64_t kCompressedInputFactor = 2;

}  // namespace

Status Image::ReadBacking(uint64_t offset, uint8_t* out,
                          uint64_t length) const {
  // SPEC(Q2.MAP.unallocated): backing data, or zeros without a backing file.
  if (!backing_name_) {
    std::memset(out, 0, length);
    return OkStatus();
  }
  // SPEC(QX.BK.no_follow)
  if (!backing_opened()) {
    return Rejected("QX.BK.no_follow", header_.backing_file_offset,
                    "reading this range needs the backing file, which was "
                    "not opened (references are not followed)");
  }
  // SPEC(Q2.BK.past_end_zero)
  const uint64_t bsize = backing_size();
  uint64_t inside = offset < bsize ? std::min(length, bsize - offset) : 0;
  if (inside > 0) {
    if (backing_image_) {
      QCOW2REF_RETURN_IF_ERROR(backing_image_->Read(offset, out, inside));
    } else {
      QCOW2REF_RETURN_IF_ERROR(backing_raw_->ReadAt(offset, out, inside));
    }
  }
  std::memset(out + inside, 0, length - inside);
  return OkStatus();
}

Status Image::ReadCompressed(const Extent& e, uint8_t* out) const {
  const uint64_t cs = geometry_.cluster_size;
  // The cache key is the whole descriptor: two entries with one offset but
  // different lengths must each be judged on their own bytes.
  if (decompressed_at_ != e.compressed_offset ||
      decompressed_bytes_ != e.compressed_bytes) {
    // SPEC(Q2.MAP.host_in_file)
    if (e.compressed_offset >= file_->Size()) {
      return Rejected("Q2.MAP.host_in_file", e.compressed_offset,
                      "compressed cluster lies past the end of the file");
    }
    // SPEC(QX.LIMIT.compressed_input)
    const uint64_t want =
        std::min(e.compressed_bytes, kCompressedInputFactor * cs);
    std::vector<uint8_t> in(want);
    QCOW2REF_RETURN_IF_ERROR(
        file_->ReadAtZeroFilled(e.compressed_offset, in.data(), in.size()));
    decompressed_.resize(cs);
    decompressed_at_ = UINT64_MAX;
    QCOW2REF_RETURN_IF_ERROR(
        DecompressCluster(header_.compression_type, in.data(), in.size(),
                          decompressed_.data(), cs, e.compressed_offset));
    decompressed_at_ = e.compressed_offset;
    decompressed_bytes_ = e.compressed_bytes;
  }
  std::memcpy(out,
              decompressed_.data() + (e.guest_offset - e.cluster_guest_offset),
              e.length);
  return OkStatus();
}

Status Image::ReadLayerExtent(const Extent& e, uint8_t* out) const {
  switch (e.kind) {
    case ClusterKind::kZero:
      // SPEC(Q2.MAP.zero_flag): zeros, never backing data.
      // SPEC(Q2.ENC.zero_plaintext): never decrypted.
      std::memset(out, 0, e.length);
      return OkStatus();
    case ClusterKind::kUnallocated:
      return ReadBacking(e.guest_offset, out, e.length);
    case ClusterKind::kCompressed:
      // SPEC(Q2.ENC.compressed_plaintext): read as QEMU stores them.
      return ReadCompressed(e, out);
    case ClusterKind::kNormal:
      break;
  }
  const ByteSource* src = file_.get();
  if (header_.has_data_file()) {
    if (!extensions_.data_file) {
      // SPEC(Q2.XDF.name_required)
      return Rejected("Q2.XDF.name_required", 72,
                      "the image uses an external data file but does not "
                      "name it");
    }
    if (!data_file_) {
      return Rejected("QX.BK.no_follow", 72,
                      "reading data needs the external data file, which was "
                      "not opened (references are not followed)");
    }
    src = data_file_.get();
  }
  // SPEC(Q2.MAP.host_in_file)
  // SPEC(QX.MAP.beyond_eof): the cluster must start inside its file; bytes
  // past the end read as zero, as QEMU reads them.
  const uint64_t last_cluster =
      (e.host_offset + e.length - 1) & ~(geometry_.cluster_size - 1);
  if (last_cluster >= src->Size()) {
    return Rejected("QX.MAP.beyond_eof", e.host_offset,
                    "data cluster lies past the end of " + src->Name());
  }
  if (header_.crypt_method != 0) return DecryptData(e, *src, out);
  return src->ReadAtZeroFilled(e.host_offset, out, e.length);
}

Status Image::DecryptData(const Extent& e, const ByteSource& src,
                          uint8_t* out) const {
  // SPEC(Q2.ENC.payload)
  if (data_cipher_ == nullptr) {
    return Error{ErrorKind::kUsage, "Q2.ENC.payload", std::nullopt,
                 "the image is encrypted: give its passphrase with "
                 "--secret-file or --secret-env"};
  }
  // SPEC(QX.ENC.sector_unit): whole sectors around the requested bytes.
  const uint64_t head = e.host_offset % kSectorSize;
  const uint64_t start = e.host_offset - head;
  const uint64_t len = DivRoundUp(head + e.length, kSectorSize) * kSectorSize;
  // SPEC(Q2.FDE.payload_offset_unused): the LUKS payload offset plays no
  // part; the L2 entry placed the data.
  // SPEC(Q2.ENC.luks.iv_host_sector): LUKS numbers sectors by host offset;
  // SPEC(Q2.ENC.aes.iv_guest_sector): legacy AES by guest offset.
  const uint64_t sector = header_.crypt_method == 2
                              ? start / kSectorSize
                              : (e.guest_offset - head) / kSectorSize;
  if (len == e.length) {
    // Whole sectors (the usual case): read and decrypt in place.
    QCOW2REF_RETURN_IF_ERROR(src.ReadAtZeroFilled(start, out, len));
    return data_cipher_->Decrypt(out, len, sector);
  }
  std::vector<uint8_t> buf(len);
  QCOW2REF_RETURN_IF_ERROR(src.ReadAtZeroFilled(start, buf.data(), len));
  QCOW2REF_RETURN_IF_ERROR(data_cipher_->Decrypt(buf.data(), len, sector));
  std::memcpy(out, buf.data() + head, e.length);
  return OkStatus();
}

Status Image::Read(uint64_t offset, uint8_t* out, uint64_t length) const {
  QCOW2REF_ASSIGN_OR_RETURN(std::vector<Extent> extents,
                            MapLayer(offset, length));
  for (const Extent& e : extents) {
    QCOW2REF_RETURN_IF_ERROR(
        ReadLayerExtent(e, out + (e.guest_offset - offset)));
  }
  return OkStatus();
}

}  // namespace qcow2ref
