// An opened qcow2 image: validated header, extensions, L1 table, snapshot
// table, bitmap directory, and the files it refers to (backing file, external
// data file) when the caller allows following them.
#ifndef QCOW2REF_REFERENCE_IMAGE_IMAGE_H_
#define QCOW2REF_REFERENCE_IMAGE_IMAGE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "reference/crypto/luks_header.h"
#include "reference/crypto/secret.h"
#include "reference/crypto/sector_cipher.h"
#include "reference/format/bitmap_directory.h"
#include "reference/format/cluster_entries.h"
#include "reference/format/extensions.h"
#include "reference/format/header.h"
#include "reference/format/snapshot_table.h"
#include "reference/image/layer_reader.h"
#include "reference/image/resolved_piece.h"
#include "reference/io/byte_source.h"
#include "reference/status/status.h"

namespace qcow2ref {

struct OpenOptions {
  // Open the backing file and external data file the image names
  // (QX.BK.no_follow). Off by default: inspecting an untrusted image never
  // touches other files.
  bool follow_references = false;
  // Allow referenced names that are absolute or leave the image's directory
  // (QX.BK.path_policy).
  bool allow_any_path = false;
};

class Image;

// The layer below an image: what its unallocated ranges show.
struct BackingLayer {
  BackingLayer();
  BackingLayer(BackingLayer&&);
  BackingLayer& operator=(BackingLayer&&);
  ~BackingLayer();

  // The backing file name from the header (Q2.BK.name), if any, and where
  // the header points to it.
  std::optional<std::string> name;
  uint64_t name_offset = 0;
  // The opened backing image (qcow2) or raw backing file; both null when
  // the image has no backing file or references are not followed.
  std::unique_ptr<Image> image;
  std::unique_ptr<ByteSource> raw;

  bool opened() const { return image || raw; }
  // Size of the backing view (qcow2 guest size or raw file size).
  uint64_t size() const;
  // Reads what an unallocated range shows: the backing file, or zeros
  // (Q2.MAP.unallocated, Q2.BK.past_end_zero).
  Status Read(uint64_t offset, uint8_t* out, uint64_t length) const;
};

// Shared by every image of one chain: loop and same-file detection, and the
// memory budget.
struct ChainState {
  std::set<FileId> images;      // Every image file of the chain.
  std::set<FileId> data_files;  // Every external data file opened.
  uint64_t metadata_bytes = 0;
};

class Image : private LayerTables {
 public:
  // Opens a qcow2 image file. References are resolved relative to its
  // directory. `secret` is the passphrase of an encrypted image (crypt_method
  // 1 or 2), for every encrypted image of the chain; it is used only while
  // opening (the keys it unlocks are kept, the secret is not). Without it the
  // header (and LUKS header) can be inspected but encrypted data cannot be
  // read.
  static Result<std::unique_ptr<Image>> Open(
      const std::string& path, const OpenOptions& options,
      const SecretBytes* secret = nullptr);
  // Opens an image held by `source` (e.g. in memory). References, if
  // followed, are resolved relative to `directory`.
  static Result<std::unique_ptr<Image>> OpenSource(
      std::unique_ptr<ByteSource> source, const OpenOptions& options,
      const SecretBytes* secret = nullptr, const std::string& directory = ".");

  const Header& header() const { return header_; }
  const Extensions& extensions() const { return extensions_; }
  const Geometry& geometry() const { return geometry_; }
  const std::vector<Snapshot>& snapshots() const { return snapshots_; }
  const std::vector<BitmapEntry>& bitmaps() const { return bitmaps_; }
  const ByteSource& file() const { return *file_; }
  const std::string& directory() const { return directory_; }

  // Guest bytes the current L1 table can map; everything past it is
  // unallocated.
  uint64_t mapped_limit() const {
    return l1_.size() * geometry_.bytes_per_l2_table();
  }
  // Host offset of the L2 table that maps `guest_offset` in the current view
  // (0: none, or past the L1 table). Lets a walk recognise a table it has
  // seen under another L1 entry.
  uint64_t l2_table_offset(uint64_t guest_offset) const {
    const uint64_t i = geometry_.l1_index(guest_offset);
    return i < l1_.size() ? L1EntryL2Offset(l1_[i]) : 0;
  }
  // Guest-visible size of the current view (active layer or snapshot).
  uint64_t guest_size() const override { return guest_size_; }
  // The backing file name from the header (Q2.BK.name), if any.
  const std::optional<std::string>& backing_name() const {
    return backing_.name;
  }
  // The opened backing image (qcow2) or raw backing file; both null when the
  // image has no backing file or references are not followed.
  const Image* backing_image() const { return backing_.image.get(); }
  const ByteSource* backing_raw() const { return backing_.raw.get(); }
  bool backing_opened() const { return backing_.opened(); }
  // Size of the backing view (qcow2 guest size or raw file size).
  uint64_t backing_size() const { return backing_.size(); }
  // The external data file, if opened.
  const ByteSource* data_file() const { return data_file_.get(); }
  // Every host file of the chain opened so far (images and data files): what
  // an output of the same command must not be (QX.CLI.output_not_input).
  std::set<FileId> chain_files() const;

  // The LUKS header of a crypt_method 2 image.
  const std::optional<LuksHeader>& luks() const { return luks_; }
  // The key slot that the secret unlocked (LUKS), or -1.
  int luks_slot() const { return luks_slot_; }
  // True when encrypted data can be read (a secret was given and accepted).
  bool can_decrypt() const { return data_cipher_ != nullptr; }

  // Switches the view to an internal snapshot, by id or name.
  Status SelectSnapshot(const std::string& id_or_name);

  // Maps [offset, offset + length) of this layer into extents (no backing).
  Result<std::vector<Extent>> MapLayer(uint64_t offset, uint64_t length) const;

  // Reads guest bytes of the current view, following the backing chain.
  Status Read(uint64_t offset, uint8_t* out, uint64_t length) const;

  // Where the bytes of [offset, offset + length) come from, through the
  // whole chain (resolved_piece.h); pieces are in guest order and cover the
  // range. Fails only where Map would (a broken mapping table).
  Result<std::vector<ResolvedPiece>> Resolve(uint64_t offset,
                                             uint64_t length) const;

  // Reads what an unallocated range shows: the backing file, or zeros
  // (Q2.MAP.unallocated, Q2.BK.past_end_zero).
  Status ReadBacking(uint64_t offset, uint8_t* out, uint64_t length) const {
    return backing_.Read(offset, out, length);
  }

  // What a writer keeps of the image it opened: the layer below and the
  // payload cipher. The writer reads its own layer through its own tables
  // (which see its writes), so the rest of the Image, whose tables would go
  // stale, is dropped.
  struct WriterParts {
    BackingLayer backing;
    std::unique_ptr<SectorCipher> cipher;
  };
  static WriterParts ReleaseForWriter(std::unique_ptr<Image> image);

 private:
  Image() = default;
  static Result<std::unique_ptr<Image>> OpenInChain(
      std::unique_ptr<ByteSource> source, const OpenOptions& options,
      const SecretBytes* secret, const std::string& directory,
      std::shared_ptr<ChainState> chain, int depth);
  Status LoadHeaderAndExtensions();
  Status LoadEncryption(const SecretBytes* secret);
  Status LoadL1(uint64_t offset, uint32_t entries, const char* clause);
  Status LoadSnapshots();
  Status LoadBitmaps();
  Status OpenReferences(int depth, const SecretBytes* secret);
  Status Charge(uint64_t bytes);
  Status ResolveInto(uint64_t offset, uint64_t length,
                     std::vector<ResolvedPiece>* out) const;
  Status ResolveBelow(uint64_t offset, uint64_t length,
                      std::vector<ResolvedPiece>* out) const;
  ResolvedPiece ResolveData(const Extent& e) const;
  // LayerTables, from the caches below.
  uint64_t l1_offset() const override { return header_.l1_table_offset; }
  uint64_t l1_size() const override { return l1_.size(); }
  uint64_t l1_entry(uint64_t index) const override { return l1_[index]; }
  Result<const uint8_t*> l2_table(uint64_t offset) const override;

  std::unique_ptr<ByteSource> file_;
  std::string directory_;
  OpenOptions options_;
  std::shared_ptr<ChainState> chain_;
  Header header_;
  Extensions extensions_;
  Geometry geometry_;
  uint64_t guest_size_ = 0;
  std::vector<uint64_t> l1_;
  std::vector<Snapshot> snapshots_;
  std::vector<BitmapEntry> bitmaps_;
  BackingLayer backing_;
  std::unique_ptr<ByteSource> data_file_;
  std::optional<LuksHeader> luks_;
  int luks_slot_ = -1;
  std::unique_ptr<SectorCipher> data_cipher_;
  // Small L2 table cache (bounded; see kL2CacheTables).
  mutable std::map<uint64_t, std::vector<uint8_t>> l2_cache_;
  // Maps and reads this layer (built once the files are open).
  std::unique_ptr<LayerReader> layer_;
};

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_IMAGE_IMAGE_H_
