#include "reference/image/layer_reader.h"

#include <algorithm>
#include <cstring>

#include "reference/format/compression.h"
#include "reference/format/header_fields.h"
#include "reference/status/checked_math.h"
#include "reference/status/endian.h"

namespace qcow2ref {
namespace {

void Append(std::vector<Extent>* out, const Extent& e) {
  if (!out->empty()) {
    Extent& last = out->back();
    const bool contiguous =
        last.kind == e.kind && e.kind != ClusterKind::kCompressed &&
        last.guest_offset + last.length == e.guest_offset &&
        last.has_host == e.has_host &&
        (!e.has_host || last.host_offset + last.length == e.host_offset);
    if (contiguous) {
      last.length += e.length;
      return;
    }
  }
  out->push_back(e);
}

}  // namespace

uint64_t PayloadIvSector(const Header& header, uint64_t guest_offset,
                         uint64_t host_offset) {
  // SPEC(Q2.ENC.luks.iv_host_sector): LUKS numbers sectors by host offset;
  // SPEC(Q2.ENC.aes.iv_guest_sector): legacy AES by guest offset.
  return (header.crypt_method == CryptMethod::kLuks ? host_offset
                                                    : guest_offset) /
         kSectorSize;
}

Result<std::vector<uint64_t>> ReadL1Table(const ByteSource& file,
                                          uint64_t offset, uint32_t entries) {
  std::vector<uint64_t> l1(entries);
  if (entries == 0) return l1;
  // 64 KiB of raw entries at a time: a 32 MiB table (a 2 PiB disk) is held
  // once, decoded, not twice (docs/performance.md).
  std::vector<uint8_t> raw(std::min<uint64_t>(uint64_t{entries} * 8, 65536));
  for (uint64_t i = 0; i < entries;) {
    const uint64_t n = std::min<uint64_t>(entries - i, raw.size() / 8);
    QCOW2REF_RETURN_IF_ERROR(
        file.ReadAtZeroFilled(offset + 8 * i, raw.data(), n * 8));
    for (uint64_t k = 0; k < n; ++k) l1[i + k] = LoadBe64(raw.data() + 8 * k);
    i += n;
  }
  return l1;
}

Result<std::vector<Extent>> LayerReader::Map(uint64_t offset,
                                             uint64_t length) const {
  std::vector<Extent> out;
  if (!RangeWithin(offset, length, tables_->guest_size())) {
    return UsageError("range past the end of the virtual disk");
  }
  const Geometry& g = *files_.geometry;
  const Header& h = *files_.header;
  uint64_t pos = offset;
  const uint64_t end = offset + length;
  while (pos < end) {
    const uint64_t cluster_start = pos & ~(g.cluster_size - 1);
    const uint64_t cluster_end = std::min(end, cluster_start + g.cluster_size);
    const uint64_t l1_index = g.l1_index(pos);
    // SPEC(Q2.MAP.l1_beyond_size): everything past the L1 table is one
    // unallocated extent (a snapshot's disk may be larger than its L1).
    if (l1_index >= tables_->l1_size()) {
      Append(&out, {pos, end - pos, ClusterKind::kUnallocated});
      break;
    }
    const uint64_t l2_offset = L1EntryL2Offset(tables_->l1_entry(l1_index));
    if (l2_offset == 0) {
      // SPEC(Q2.MAP.l1_entry.offset): a whole L2 range is unallocated.
      const uint64_t range_end =
          std::min(end, (l1_index + 1) * g.bytes_per_l2_table());
      Append(&out, {pos, range_end - pos, ClusterKind::kUnallocated});
      pos = range_end;
      continue;
    }
    const uint64_t l1_at = tables_->l1_offset() + 8 * l1_index;
    // SPEC(Q2.MAP.l1_entry.aligned)
    if (l2_offset % g.cluster_size != 0) {
      return Rejected("Q2.MAP.l1_entry.aligned", l1_at,
                      "L2 table offset " + std::to_string(l2_offset) +
                          " is not cluster aligned (L1 index " +
                          std::to_string(l1_index) + ")");
    }
    // SPEC(Q2.MAP.l2_table_in_file)
    if (l2_offset >= files_.file->Size()) {
      return Rejected("Q2.MAP.l2_table_in_file", l1_at,
                      "L2 table at " + std::to_string(l2_offset) +
                          " lies past the end of the file");
    }
    // SPEC(Q2.ENC.metadata_plain): tables are read as stored, never decrypted.
    QCOW2REF_ASSIGN_OR_RETURN(const uint8_t* table,
                              tables_->l2_table(l2_offset));
    // SPEC(Q2.MAP.l1_index)
    const uint64_t l2_index = g.l2_index(pos);
    const uint8_t* raw = table + l2_index * g.l2_entry_bytes;
    const uint64_t at = l2_offset + l2_index * g.l2_entry_bytes;
    const uint64_t entry = LoadBe64(raw);
    const uint64_t bitmap = g.extended_l2 ? LoadBe64(raw + 8) : 0;
    QCOW2REF_ASSIGN_OR_RETURN(ClusterDescriptor d,
                              DecodeL2Entry(g, h, entry, bitmap, at));
    if (d.kind == ClusterKind::kCompressed) {
      Extent e{pos, cluster_end - pos, ClusterKind::kCompressed};
      e.compressed_offset = d.compressed_offset;
      e.compressed_bytes = d.compressed_bytes;
      e.cluster_guest_offset = cluster_start;
      Append(&out, e);
      pos = cluster_end;
      continue;
    }
    if (d.kind == ClusterKind::kNormal && h.has_data_file() &&
        d.host_offset != cluster_start) {
      // SPEC(Q2.XDF.host_equals_guest)
      return Rejected("Q2.XDF.host_equals_guest", at,
                      "external data file cluster at host offset " +
                          std::to_string(d.host_offset) +
                          " does not match guest offset " +
                          std::to_string(cluster_start));
    }
    // Without extended L2 the cluster is one piece; with it, each
    // subcluster has its own state.
    const uint64_t piece = g.extended_l2 ? g.subcluster_size : g.cluster_size;
    while (pos < cluster_end) {
      const int sub = static_cast<int>((pos - cluster_start) / piece);
      const uint64_t piece_end =
          std::min(cluster_end, cluster_start + (sub + 1) * piece);
      ClusterKind kind = d.kind;
      if (g.extended_l2) {
        QCOW2REF_ASSIGN_OR_RETURN(kind, SubclusterKind(d, sub, at));
      }
      Extent e{pos, piece_end - pos, kind};
      // A zeroed or partly unallocated cluster may still own a host cluster.
      if (d.owns_host) {
        e.host_offset = d.host_offset + (pos - cluster_start);
        e.has_host = true;
      }
      Append(&out, e);
      pos = piece_end;
    }
  }
  return out;
}

Status LayerReader::ReadCompressed(const Extent& e, uint8_t* out) const {
  const Header& h = *files_.header;
  const uint64_t cs = files_.geometry->cluster_size;
  const ByteSource& file = *files_.file;
  // The cache key is the whole descriptor: two entries with one offset but
  // different lengths must each be judged on their own bytes.
  if (decompressed_at_ != e.compressed_offset ||
      decompressed_bytes_ != e.compressed_bytes) {
    // SPEC(Q2.MAP.host_in_file)
    if (e.compressed_offset >= file.Size()) {
      return Rejected("Q2.MAP.host_in_file", e.compressed_offset,
                      "compressed cluster lies past the end of the file");
    }
    std::vector<uint8_t> in(CompressedInputBytes(e.compressed_bytes, cs));
    QCOW2REF_RETURN_IF_ERROR(
        file.ReadAtZeroFilled(e.compressed_offset, in.data(), in.size()));
    decompressed_.resize(cs);
    decompressed_at_ = UINT64_MAX;
    QCOW2REF_RETURN_IF_ERROR(DecompressCluster(h.compression_type, in.data(),
                                               in.size(), decompressed_.data(),
                                               cs, e.compressed_offset));
    decompressed_at_ = e.compressed_offset;
    decompressed_bytes_ = e.compressed_bytes;
  }
  std::memcpy(out,
              decompressed_.data() + (e.guest_offset - e.cluster_guest_offset),
              e.length);
  return OkStatus();
}

Status LayerReader::ReadExtent(const Extent& e, uint8_t* out) const {
  switch (e.kind) {
    case ClusterKind::kZero:
      // SPEC(Q2.MAP.zero_flag): zeros, never backing data.
      // SPEC(Q2.ENC.zero_plaintext): never decrypted.
      std::memset(out, 0, e.length);
      return OkStatus();
    case ClusterKind::kUnallocated:
      return files_.read_below(e.guest_offset, out, e.length);
    case ClusterKind::kCompressed:
      // SPEC(Q2.ENC.compressed_plaintext): read as QEMU stores them.
      return ReadCompressed(e, out);
    case ClusterKind::kNormal:
      break;
  }
  return ReadData(e, out);
}

Result<const ByteSource*> LayerReader::DataFileOf(const Extent& e) const {
  const Header& h = *files_.header;
  const ByteSource* src = files_.file;
  if (h.has_data_file()) {
    if (!files_.data_file_named) {
      // SPEC(Q2.XDF.name_required)
      return Rejected("Q2.XDF.name_required",
                      HeaderField::kIncompatibleFeatures.offset,
                      "the image uses an external data file but does not "
                      "name it");
    }
    if (files_.data_file == nullptr) {
      return Rejected("QX.BK.no_follow",
                      HeaderField::kIncompatibleFeatures.offset,
                      "reading data needs the external data file, which was "
                      "not opened (references are not followed)");
    }
    src = files_.data_file;
  }
  // SPEC(Q2.MAP.host_in_file)
  // SPEC(QX.MAP.beyond_eof): the cluster must start inside its file; bytes
  // past the end read as zero, as QEMU reads them.
  const uint64_t last_cluster =
      (e.host_offset + e.length - 1) & ~(files_.geometry->cluster_size - 1);
  if (last_cluster >= src->Size() && !files_.data_past_eof_reads_zero) {
    return Rejected("QX.MAP.beyond_eof", e.host_offset,
                    "data cluster lies past the end of " + src->Name());
  }
  return src;
}

Status LayerReader::CheckPayloadKey() const {
  // SPEC(Q2.ENC.payload)
  if (files_.cipher == nullptr) return MissingSecretError("Q2.ENC.payload");
  return OkStatus();
}

Status LayerReader::ReadData(const Extent& e, uint8_t* out) const {
  QCOW2REF_ASSIGN_OR_RETURN(const ByteSource* src, DataFileOf(e));
  if (files_.header->crypt_method != CryptMethod::kNone) {
    return DecryptData(e, *src, out);
  }
  return src->ReadAtZeroFilled(e.host_offset, out, e.length);
}

Status LayerReader::DecryptData(const Extent& e, const ByteSource& src,
                                uint8_t* out) const {
  QCOW2REF_RETURN_IF_ERROR(CheckPayloadKey());
  // SPEC(QX.ENC.sector_unit): whole sectors around the requested bytes.
  const uint64_t head = e.host_offset % kSectorSize;
  const uint64_t start = e.host_offset - head;
  const uint64_t len = DivRoundUp(head + e.length, kSectorSize) * kSectorSize;
  // SPEC(Q2.FDE.payload_offset_unused): the LUKS payload offset plays no
  // part; the L2 entry placed the data.
  const uint64_t sector =
      PayloadIvSector(*files_.header, e.guest_offset - head, start);
  if (len == e.length) {
    // Whole sectors (the usual case): read and decrypt in place.
    QCOW2REF_RETURN_IF_ERROR(src.ReadAtZeroFilled(start, out, len));
    return files_.cipher->Decrypt(out, len, sector);
  }
  std::vector<uint8_t> buf(len);
  QCOW2REF_RETURN_IF_ERROR(src.ReadAtZeroFilled(start, buf.data(), len));
  QCOW2REF_RETURN_IF_ERROR(files_.cipher->Decrypt(buf.data(), len, sector));
  std::memcpy(out, buf.data() + head, e.length);
  return OkStatus();
}

Status LayerReader::Read(uint64_t offset, uint8_t* out, uint64_t length) const {
  QCOW2REF_ASSIGN_OR_RETURN(std::vector<Extent> extents, Map(offset, length));
  for (const Extent& e : extents) {
    QCOW2REF_RETURN_IF_ERROR(ReadExtent(e, out + (e.guest_offset - offset)));
  }
  return OkStatus();
}

}  // namespace qcow2ref
