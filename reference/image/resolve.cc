// Image::Resolve: where each byte of a guest range comes from, through the
// backing chain. Only the cases whose bytes are plain copies, zeros or whole
// decryptable sectors are resolved; everything else stays kSlow, so every
// rule (and every error) keeps its one place in layer_reader.cc.
#include <algorithm>

#include "reference/image/image.h"

namespace qcow2ref {
namespace {

// Appends `p`, merged with the last piece when it continues it.
void Append(std::vector<ResolvedPiece>* out, const ResolvedPiece& p) {
  if (p.length == 0) return;
  if (!out->empty()) {
    ResolvedPiece& last = out->back();
    const bool continues =
        last.source == p.source && p.source != PieceSource::kError &&
        last.guest_offset + last.length == p.guest_offset &&
        (p.source == PieceSource::kZeros || p.source == PieceSource::kSlow ||
         (last.file == p.file &&
          last.file_offset + last.length == p.file_offset &&
          (p.source == PieceSource::kFile ||
           (last.cipher == p.cipher &&
            last.iv_sector + last.length / kSectorSize == p.iv_sector))));
    if (continues) {
      last.length += p.length;
      return;
    }
  }
  out->push_back(p);
}

ResolvedPiece Piece(PieceSource source, uint64_t offset, uint64_t length) {
  ResolvedPiece p;
  p.source = source;
  p.guest_offset = offset;
  p.length = length;
  return p;
}

}  // namespace

Status Image::ResolveInto(uint64_t offset, uint64_t length,
                          std::vector<ResolvedPiece>* out) const {
  QCOW2REF_ASSIGN_OR_RETURN(std::vector<Extent> extents,
                            layer_->Map(offset, length));
  for (const Extent& e : extents) {
    switch (e.kind) {
      case ClusterKind::kZero:
        Append(out, Piece(PieceSource::kZeros, e.guest_offset, e.length));
        break;
      case ClusterKind::kCompressed:
        Append(out, Piece(PieceSource::kSlow, e.guest_offset, e.length));
        break;
      case ClusterKind::kUnallocated:
        QCOW2REF_RETURN_IF_ERROR(ResolveBelow(e.guest_offset, e.length, out));
        break;
      case ClusterKind::kNormal:
        Append(out, ResolveData(e));
        break;
    }
  }
  return OkStatus();
}

// As BackingLayer::Read reads it.
Status Image::ResolveBelow(uint64_t offset, uint64_t length,
                           std::vector<ResolvedPiece>* out) const {
  if (!backing_.name) {
    Append(out, Piece(PieceSource::kZeros, offset, length));
    return OkStatus();
  }
  if (!backing_.opened()) {
    Append(out, Piece(PieceSource::kSlow, offset, length));
    return OkStatus();
  }
  const uint64_t bsize = backing_.size();
  const uint64_t inside = offset < bsize ? std::min(length, bsize - offset) : 0;
  if (inside > 0) {
    if (backing_.image) {
      // The backing image's own guest offsets are ours: its pieces are ours.
      QCOW2REF_RETURN_IF_ERROR(
          backing_.image->ResolveInto(offset, inside, out));
    } else {
      ResolvedPiece p = Piece(PieceSource::kFile, offset, inside);
      p.file = backing_.raw.get();
      p.file_offset = offset;
      Append(out, p);
    }
  }
  Append(out, Piece(PieceSource::kZeros, offset + inside, length - inside));
  return OkStatus();
}

// As LayerReader::ReadData reads it.
ResolvedPiece Image::ResolveData(const Extent& e) const {
  ResolvedPiece p = Piece(PieceSource::kSlow, e.guest_offset, e.length);
  Result<const ByteSource*> src = layer_->DataFileOf(e);
  if (!src.ok()) {
    // The error Image::Read gives for this whole extent (a part of it might
    // pass the check and fail on something else first).
    p.source = PieceSource::kError;
    p.error = src.error();
    return p;
  }
  if (header_.crypt_method != CryptMethod::kNone) {
    Status key = layer_->CheckPayloadKey();
    if (!key.ok()) {
      p.source = PieceSource::kError;
      p.error = key.error();
      return p;
    }
  }
  const ByteSource* file = *src;
  // Bytes past the end of the file read as zeros: left to the slow path.
  if (e.host_offset > file->Size() || e.length > file->Size() - e.host_offset)
    return p;
  p.file = file;
  p.file_offset = e.host_offset;
  if (header_.crypt_method == CryptMethod::kNone) {
    p.source = PieceSource::kFile;
    return p;
  }
  // Whole sectors only (QX.ENC.sector_unit): a partial one needs the bounce
  // buffer of the slow path.
  if (e.host_offset % kSectorSize != 0 || e.length % kSectorSize != 0) {
    p.source = PieceSource::kSlow;
    return p;
  }
  p.source = PieceSource::kEncrypted;
  p.cipher = layer_->cipher();
  p.iv_sector = PayloadIvSector(header_, e.guest_offset, e.host_offset);
  return p;
}

Result<std::vector<ResolvedPiece>> Image::Resolve(uint64_t offset,
                                                  uint64_t length) const {
  std::vector<ResolvedPiece> out;
  QCOW2REF_RETURN_IF_ERROR(ResolveInto(offset, length, &out));
  return out;
}

}  // namespace qcow2ref
