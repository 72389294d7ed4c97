// Image::Open: header -> extensions -> tables -> referenced files.
#include <algorithm>
#include <cstring>

#include "reference/crypto/legacy_aes.h"
#include "reference/crypto/luks_unlock.h"
#include "reference/format/header_fields.h"
#include "reference/format/limits.h"
#include "reference/format/snapshot_fields.h"
#include "reference/image/image.h"
#include "reference/image/references.h"
#include "reference/status/checked_math.h"
#include "reference/status/endian.h"

namespace qcow2ref {
namespace {

// Cluster 0 is at most 2 MiB (QX.LIMIT.cluster_bits_max).
constexpr uint64_t kMaxPrefix = uint64_t{1} << kMaxClusterBits;

}  // namespace

Result<std::unique_ptr<Image>> Image::Open(const std::string& path,
                                           const OpenOptions& options,
                                           const SecretBytes* secret) {
  QCOW2REF_ASSIGN_OR_RETURN(auto file, FileSource::Open(path));
  auto chain = std::make_shared<ChainState>();
  QCOW2REF_RETURN_IF_ERROR(RegisterImage(chain.get(), *file, 0));
  return OpenInChain(std::move(file), options, secret, DirectoryOf(path), chain,
                     0);
}

Result<std::unique_ptr<Image>> Image::OpenSource(
    std::unique_ptr<ByteSource> source, const OpenOptions& options,
    const SecretBytes* secret, const std::string& directory) {
  auto chain = std::make_shared<ChainState>();
  // A file store the writer holds has an identity too: its data file and
  // backing files must not be the image itself.
  QCOW2REF_RETURN_IF_ERROR(RegisterImage(chain.get(), *source, 0));
  return OpenInChain(std::move(source), options, secret, directory, chain, 0);
}

std::set<FileId> Image::chain_files() const {
  std::set<FileId> files = chain_->images;
  files.insert(chain_->data_files.begin(), chain_->data_files.end());
  return files;
}

Result<std::unique_ptr<Image>> Image::OpenInChain(
    std::unique_ptr<ByteSource> source, const OpenOptions& options,
    const SecretBytes* secret, const std::string& directory,
    std::shared_ptr<ChainState> chain, int depth) {
  std::unique_ptr<Image> img(new Image());
  img->file_ = std::move(source);
  img->options_ = options;
  img->directory_ = directory;
  img->chain_ = std::move(chain);
  QCOW2REF_RETURN_IF_ERROR(img->LoadHeaderAndExtensions());
  QCOW2REF_RETURN_IF_ERROR(img->LoadEncryption(secret));
  QCOW2REF_RETURN_IF_ERROR(img->LoadL1(img->header_.l1_table_offset,
                                       img->header_.l1_size,
                                       "Q2.HDR.l1_table_offset.aligned"));
  QCOW2REF_RETURN_IF_ERROR(img->LoadSnapshots());
  QCOW2REF_RETURN_IF_ERROR(img->LoadBitmaps());
  QCOW2REF_RETURN_IF_ERROR(img->OpenReferences(depth, secret));
  LayerFiles files;
  files.header = &img->header_;
  files.geometry = &img->geometry_;
  files.file = img->file_.get();
  files.data_file = img->data_file_.get();
  files.data_file_named = img->extensions_.data_file.has_value();
  files.cipher = img->data_cipher_.get();
  const Image* self = img.get();
  files.read_below = [self](uint64_t offset, uint8_t* out, uint64_t length) {
    return self->ReadBacking(offset, out, length);
  };
  const LayerTables* tables = img.get();
  img->layer_ = std::make_unique<LayerReader>(std::move(files), tables);
  return img;
}

Status Image::Charge(uint64_t bytes) {
  chain_->metadata_bytes += bytes;
  // SPEC(QX.LIMIT.open_memory)
  if (chain_->metadata_bytes > kMaxMetadataBytesPerOpen) {
    return Rejected("QX.LIMIT.open_memory", std::nullopt,
                    "metadata of this image chain exceeds 256 MiB");
  }
  return OkStatus();
}

Status Image::LoadHeaderAndExtensions() {
  const uint64_t prefix_len = std::min<uint64_t>(file_->Size(), kMaxPrefix);
  std::vector<uint8_t> prefix(prefix_len);
  QCOW2REF_RETURN_IF_ERROR(file_->ReadAt(0, prefix.data(), prefix.size()));
  auto header = ParseHeader(prefix.data(), prefix.size());
  if (!header.ok()) {
    Error e = header.take_error();
    if (e.clause == "Q2.HDRV3.incompat.unknown_fail" &&
        prefix.size() >= HeaderField::kIncompatibleFeatures.end()) {
      // Name the bit from the feature name table when the image has one.
      Header lenient;
      std::vector<uint8_t> copy = prefix;
      const uint64_t incompat =
          LoadField(copy.data(), HeaderField::kIncompatibleFeatures);
      StoreField(copy.data(), HeaderField::kIncompatibleFeatures,
                 incompat & kIncompatKnownMask);
      auto h2 = ParseHeader(copy.data(), copy.size());
      if (h2.ok()) {
        auto ext = ParseExtensions(
            *h2, copy.data(),
            std::min<uint64_t>(copy.size(), h2->cluster_size()));
        const uint64_t unknown = incompat & ~kIncompatKnownMask;
        if (ext.ok()) {
          const std::string name = FeatureNameFor(
              *ext, 0, static_cast<uint8_t>(__builtin_ctzll(unknown)));
          if (!name.empty()) e.message += " ('" + name + "')";
        }
      }
    }
    return e;
  }
  header_ = std::move(header).value();
  // SPEC(Q2.HDRV3.incompat.dirty): refcounts are never used for reading.
  // SPEC(Q2.HDRV3.incompat.corrupt): this library only reads, which the
  // corrupt bit allows.
  geometry_ = Geometry::FromHeader(header_);
  guest_size_ = GuestSize(header_);
  const size_t c0 = std::min<uint64_t>(prefix.size(), header_.cluster_size());
  QCOW2REF_ASSIGN_OR_RETURN(extensions_,
                            ParseExtensions(header_, prefix.data(), c0));
  // SPEC(Q2.FDE.only_luks): required with crypt_method 2.
  if (header_.crypt_method == CryptMethod::kLuks && !extensions_.fde) {
    return Rejected("Q2.FDE.only_luks", HeaderField::kCryptMethod.offset,
                    "crypt_method 2 (LUKS) without a full disk encryption "
                    "header pointer");
  }
  if (header_.backing_file_offset != 0) {
    // SPEC(Q2.BK.name): not NUL-terminated; bounds checked by the header.
    if (header_.backing_file_offset + header_.backing_file_size > c0) {
      return Rejected("Q2.HDR.backing_file_offset.in_cluster0",
                      header_.backing_file_offset,
                      "backing file name lies past the end of the file");
    }
    backing_.name_offset = header_.backing_file_offset;
    backing_.name =
        std::string(reinterpret_cast<const char*>(prefix.data() +
                                                  header_.backing_file_offset),
                    header_.backing_file_size);
  }
  return OkStatus();
}

Status Image::LoadEncryption(const SecretBytes* secret) {
  if (header_.crypt_method == CryptMethod::kAes) {
    if (secret == nullptr) return OkStatus();
    // SPEC(QX.ENC.aes.no_key_check): any passphrase gives a key; nothing in
    // the image can confirm it.
    QCOW2REF_ASSIGN_OR_RETURN(data_cipher_, LegacyAesCipher(*secret));
    return OkStatus();
  }
  if (header_.crypt_method != CryptMethod::kLuks) return OkStatus();
  const FdePointer& fde = *extensions_.fde;
  // SPEC(Q2.FDE.in_file)
  if (!RangeWithin(fde.offset, fde.length, file_->Size())) {
    return Rejected("Q2.FDE.in_file", fde.offset,
                    "the LUKS area [" + std::to_string(fde.offset) + ", +" +
                        std::to_string(fde.length) +
                        ") lies past the end of the file");
  }
  // SPEC(Q2.FDE.luks_header_first)
  uint8_t raw[kLuksHeaderSize] = {};
  const size_t n =
      static_cast<size_t>(std::min<uint64_t>(fde.length, kLuksHeaderSize));
  QCOW2REF_RETURN_IF_ERROR(file_->ReadAt(fde.offset, raw, n));
  // SPEC(Q2.FDE.key_material_relative): slot offsets count from fde.offset.
  QCOW2REF_ASSIGN_OR_RETURN(luks_,
                            ParseLuksHeader(raw, n, fde.offset, fde.length));
  if (secret == nullptr) return OkStatus();
  QCOW2REF_ASSIGN_OR_RETURN(LuksUnlockResult unlocked,
                            UnlockLuks(*luks_, *file_, fde.offset, *secret));
  luks_slot_ = unlocked.slot;
  // SPEC(L1.OPS.payload_master_key)
  // SPEC(Q2.ENC.luks.algorithms)
  QCOW2REF_ASSIGN_OR_RETURN(
      data_cipher_,
      SectorCipher::Create(luks_->suite, unlocked.master_key.data(),
                           unlocked.master_key.size()));
  return OkStatus();
}

Status Image::LoadL1(uint64_t offset, uint32_t entries, const char* clause) {
  l1_.assign(entries, 0);
  if (entries == 0) return OkStatus();
  const uint64_t bytes = uint64_t{entries} * 8;
  QCOW2REF_RETURN_IF_ERROR(Charge(bytes));
  // SPEC(QX.MAP.beyond_eof): the table starts inside the file; bytes past the
  // end read as zero (QEMU reads zeros there too).
  if (offset >= file_->Size()) {
    return Rejected(
        "QX.MAP.beyond_eof", offset,
        std::string("L1 table lies past the end of the file (") + clause + ")");
  }
  QCOW2REF_ASSIGN_OR_RETURN(l1_, ReadL1Table(*file_, offset, entries));
  l2_cache_.clear();
  return OkStatus();
}

Status Image::LoadSnapshots() {
  if (header_.nb_snapshots == 0) return OkStatus();
  const uint64_t off = header_.snapshots_offset;
  // SPEC(Q2.SNAP.table_bounds)
  if (off >= file_->Size()) {
    return Rejected("Q2.SNAP.table_bounds", off,
                    "snapshot table lies past the end of the file");
  }
  const uint64_t avail =
      std::min<uint64_t>(file_->Size() - off, kMaxSnapshotTableBytes);
  QCOW2REF_RETURN_IF_ERROR(Charge(avail));
  std::vector<uint8_t> raw(avail);
  QCOW2REF_RETURN_IF_ERROR(file_->ReadAt(off, raw.data(), raw.size()));
  QCOW2REF_ASSIGN_OR_RETURN(
      snapshots_,
      ParseSnapshotTable(raw.data(), raw.size(), header_.nb_snapshots, off));
  return OkStatus();
}

Status Image::LoadBitmaps() {
  if (!extensions_.bitmaps) return OkStatus();
  // SPEC(Q2.BMX.autoclear_bit): without autoclear bit 0 the extension is stale.
  if ((header_.autoclear_features & kAutoclearBitmaps) == 0) {
    return OkStatus();
  }
  const BitmapsExtension& b = *extensions_.bitmaps;
  if (!RangeWithin(b.directory_offset, b.directory_size, file_->Size())) {
    return Rejected("QX.MAP.beyond_eof", b.directory_offset,
                    "bitmap directory lies past the end of the file");
  }
  QCOW2REF_RETURN_IF_ERROR(Charge(b.directory_size));
  std::vector<uint8_t> dir(b.directory_size);
  QCOW2REF_RETURN_IF_ERROR(
      file_->ReadAt(b.directory_offset, dir.data(), dir.size()));
  QCOW2REF_ASSIGN_OR_RETURN(
      bitmaps_, ParseBitmapDirectory(header_, dir.data(), dir.size(),
                                     b.nb_bitmaps, b.directory_offset));
  return OkStatus();
}

Status Image::OpenReferences(int depth, const SecretBytes* secret) {
  // SPEC(QX.BK.no_follow): nothing outside this file is opened unless asked.
  if (!options_.follow_references) return OkStatus();
  if (header_.has_data_file() && extensions_.data_file) {
    QCOW2REF_ASSIGN_OR_RETURN(
        data_file_,
        OpenReferencedFile(directory_, *extensions_.data_file,
                           options_.allow_any_path, "external data file", 0));
    QCOW2REF_RETURN_IF_ERROR(RegisterDataFile(chain_.get(), *data_file_, 0));
  }
  if (!backing_.name) return OkStatus();
  const uint64_t at = header_.backing_file_offset;
  // SPEC(QX.LIMIT.backing_depth)
  if (depth + 1 >= kMaxBackingDepth) {
    return Rejected("QX.LIMIT.backing_depth", at,
                    "backing chain deeper than " +
                        std::to_string(kMaxBackingDepth) + " images");
  }
  QCOW2REF_ASSIGN_OR_RETURN(
      auto file,
      OpenReferencedFile(directory_, *backing_.name, options_.allow_any_path,
                         "backing file", at));
  const std::string path = file->Name();
  QCOW2REF_RETURN_IF_ERROR(RegisterImage(chain_.get(), *file, at));
  // SPEC(Q2.BK.format)
  std::string format;
  if (extensions_.backing_format) {
    format = *extensions_.backing_format;
    // SPEC(Q2.EXT.backing_format.values)
    if (format != "raw" && format != "qcow2") {
      return Unsupported("Q2.EXT.backing_format.values", at,
                         "backing format '" + format + "' is not supported");
    }
  } else {
    constexpr Field magic_field = HeaderField::kMagic;
    uint8_t magic[magic_field.width] = {};
    if (file->Size() >= magic_field.end()) {
      QCOW2REF_RETURN_IF_ERROR(
          file->ReadAt(magic_field.offset, magic, magic_field.width));
    }
    format =
        LoadField(magic, Alone(magic_field)) == kQcow2Magic ? "qcow2" : "raw";
  }
  if (format == "raw") {
    backing_.raw = std::move(file);
    return OkStatus();
  }
  auto backing = OpenInChain(std::move(file), options_, secret,
                             DirectoryOf(path), chain_, depth + 1);
  if (!backing.ok()) {
    Error e = backing.take_error();
    e.message = "in backing file " + path + ": " + e.message;
    return e;
  }
  backing_.image = std::move(backing).value();
  return OkStatus();
}

Status Image::SelectSnapshot(const std::string& key) {
  const Snapshot* found = nullptr;
  for (const Snapshot& s : snapshots_) {
    if (s.id == key || s.name == key) {
      found = &s;
      if (s.name == key) break;
    }
  }
  if (found == nullptr) {
    return UsageError("no snapshot with id or name '" + key + "'");
  }
  // SPEC(Q2.SNAP.l1_aligned)
  if (found->l1_table_offset % geometry_.cluster_size != 0) {
    return Rejected("Q2.SNAP.l1_aligned", found->entry_offset,
                    "snapshot '" + found->name +
                        "' L1 table offset is not cluster aligned");
  }
  // SPEC(QX.LIMIT.snapshot_l1_size)
  if (uint64_t{found->l1_size} * 8 > kMaxSnapshotL1Bytes) {
    return Rejected("QX.LIMIT.snapshot_l1_size",
                    found->entry_offset + SnapshotField::kL1Size.offset,
                    "snapshot L1 table exceeds 32 MiB");
  }
  const Snapshot s = *found;
  // SPEC(QX.LIMIT.virtual_size)
  if (s.disk_size && *s.disk_size > kMaxVirtualSize) {
    return Rejected("QX.LIMIT.virtual_size",
                    found->entry_offset + kSnapshotFixedSize +
                        SnapshotExtraField::kDiskSize.offset,
                    "snapshot '" + s.name + "' disk size exceeds 2^63-1");
  }
  QCOW2REF_RETURN_IF_ERROR(
      LoadL1(s.l1_table_offset, s.l1_size, "Q2.SNAP.l1_aligned"));
  // SPEC(Q2.SNAP.disk_size)
  guest_size_ = (s.disk_size ? *s.disk_size : header_.size) & ~uint64_t{511};
  return OkStatus();
}

}  // namespace qcow2ref
