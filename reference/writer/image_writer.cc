#include "reference/writer/image_writer.h"

#include <algorithm>
#include <cstring>

#include "reference/check/rebuild.h"
#include "reference/format/cluster_entries.h"
#include "reference/format/compression.h"
#include "reference/format/header_fields.h"
#include "reference/format/limits.h"
#include "reference/format/refcount.h"
#include "reference/status/checked_math.h"
#include "reference/status/endian.h"
#include "reference/writer/soundness.h"

namespace qcow2ref {

// The writer's tables as the mapping sees them: every pointer written so far.
class ImageWriter::OwnTables : public LayerTables {
 public:
  explicit OwnTables(ImageWriter* w) : w_(w) {}
  uint64_t guest_size() const override { return w_->header_.size; }
  uint64_t l1_offset() const override { return w_->header_.l1_table_offset; }
  uint64_t l1_size() const override { return w_->l1_.size(); }
  uint64_t l1_entry(uint64_t index) const override { return w_->l1_[index]; }
  Result<const uint8_t*> l2_table(uint64_t offset) const override {
    QCOW2REF_ASSIGN_OR_RETURN(std::vector<uint8_t> * t, w_->L2Table(offset));
    return t->data();
  }

 private:
  ImageWriter* w_;
};

ImageWriter::~ImageWriter() = default;

Result<std::unique_ptr<ImageWriter>> ImageWriter::Open(
    std::unique_ptr<ByteStore> store, WriterOptions options) {
  std::unique_ptr<ImageWriter> w(new ImageWriter());
  w->store_ = std::move(store);
  // SPEC(QX.WRITE.dirty_refused): a dirty image (lazy refcounts) has its
  // refcounts rebuilt before anything else is written, as QEMU does; the
  // rebuild waits for the first write (PrepareForWriting), so that a command
  // refused before it (a bad range, a missing passphrase) writes nothing.
  constexpr Field features_field = HeaderField::kIncompatibleFeatures;
  constexpr Field version_field = HeaderField::kVersion;
  uint8_t features[features_field.width];
  uint8_t version[version_field.width];
  if (w->store_->Size() >= HeaderField::kHeaderLength.end() &&
      w->store_->ReadAt(features_field.offset, features, sizeof(features))
          .ok() &&
      w->store_->ReadAt(version_field.offset, version, sizeof(version)).ok() &&
      LoadField(version, Alone(version_field)) >= 3 &&
      (LoadField(features, Alone(features_field)) &
       (kIncompatDirty | kIncompatCorrupt)) == kIncompatDirty) {
    // Refused now if the rebuild would be (anything but counts wrong).
    QCOW2REF_RETURN_IF_ERROR(CheckRepairable(*w->store_));
    w->rebuild_pending_ = true;
  }
  QCOW2REF_RETURN_IF_ERROR(w->Load(std::move(options)));
  // A dirty image was proven repairable above: the rebuild makes it sound.
  if (!w->rebuild_pending_) {
    QCOW2REF_RETURN_IF_ERROR(ProveSoundForWriting(*w->store_));
  }
  return w;
}

Status ImageWriter::Load(WriterOptions options) {
  OpenOptions open;
  open.follow_references = true;
  open.allow_any_path = options.allow_any_path;
  // The image's own data file is opened read-write by the caller; the
  // reader must not open it again.
  QCOW2REF_ASSIGN_OR_RETURN(
      std::unique_ptr<Image> image,
      Image::OpenSource(std::make_unique<BorrowedSource>(store_.get()), open,
                        options.secret, options.directory));
  header_ = image->header();
  g_ = image->geometry();
  // SPEC(Q2.HDRV3.incompat.corrupt): never written.
  if (header_.incompatible_features & kIncompatCorrupt) {
    return Rejected("Q2.HDRV3.incompat.corrupt",
                    HeaderField::kIncompatibleFeatures.offset,
                    "the image is marked corrupt and must not be written");
  }
  // SPEC(QX.WRITE.dirty_refused): refcounts may be stale; allocating from
  // them could cross-link clusters.
  if ((header_.incompatible_features & kIncompatDirty) && !rebuild_pending_) {
    return Unsupported("QX.WRITE.dirty_refused",
                       HeaderField::kIncompatibleFeatures.offset,
                       "the image is dirty (lazy refcounts): its refcounts "
                       "must be rebuilt before it can be written");
  }
  snapshots_ = image->snapshots();
  if (header_.crypt_method != CryptMethod::kNone && !image->can_decrypt()) {
    return MissingSecretError("Q2.ENC.payload");
  }
  if (header_.has_data_file()) {
    if (!options.data_file) {
      return UsageError("the image has an external data file: open it too");
    }
    // SPEC(QX.BK.same_file): the reader judged the data file it opened
    // (not an image of the chain); the caller's read-write one must be that
    // same file.
    const ByteSource* judged = image->data_file();
    const auto id = options.data_file->Identity();
    if (id && (judged == nullptr || judged->Identity() != id)) {
      return Rejected("QX.BK.same_file", std::nullopt,
                      "the external data file opened for writing is not the "
                      "one the image names (it changed while opening)");
    }
    data_file_ = std::move(options.data_file);
  }
  QCOW2REF_RETURN_IF_ERROR(LoadTables());
  QCOW2REF_RETURN_IF_ERROR(LoadBitmaps(*image));
  // The rest of the opened Image (its L1 and L2 caches) would go stale with
  // the first write: keep only the layer below and the cipher.
  Image::WriterParts parts = Image::ReleaseForWriter(std::move(image));
  below_ = std::move(parts.backing);
  cipher_ = std::move(parts.cipher);
  LayerFiles files;
  files.header = &header_;
  files.geometry = &g_;
  files.file = store_.get();
  files.data_file = data_file_.get();
  files.data_file_named = header_.has_data_file();
  files.cipher = cipher_.get();
  // The writer never refused these (QEMU reads zeros there); a partial
  // write into such a cluster must not fail on its copy-on-write read.
  files.data_past_eof_reads_zero = true;
  files.read_below = [this](uint64_t offset, uint8_t* out, uint64_t length) {
    return below_.Read(offset, out, length);
  };
  own_tables_ = std::make_unique<OwnTables>(this);
  layer_ = std::make_unique<LayerReader>(std::move(files), own_tables_.get());
  return OkStatus();
}

Status ImageWriter::LoadTables() {
  l2_cache_.clear();
  refblocks_.clear();
  QCOW2REF_ASSIGN_OR_RETURN(
      l1_, ReadL1Table(*store_, header_.l1_table_offset, header_.l1_size));
  reftable_offset_ = header_.refcount_table_offset;
  const uint64_t rt_bytes =
      uint64_t{header_.refcount_table_clusters} * g_.cluster_size;
  std::vector<uint8_t> rt(rt_bytes);
  QCOW2REF_RETURN_IF_ERROR(
      store_->ReadAtZeroFilled(reftable_offset_, rt.data(), rt.size()));
  reftable_.resize(rt_bytes / 8);
  for (uint64_t i = 0; i < reftable_.size(); ++i) {
    reftable_[i] = LoadBe64(rt.data() + 8 * i) & ~uint64_t{0x1ff};
  }
  next_free_ = DivRoundUp(store_->Size(), g_.cluster_size) * g_.cluster_size;
  return OkStatus();
}

Status ImageWriter::PrepareForWriting() {
  if (prepared_) return OkStatus();
  prepared_ = true;
  // SPEC(Q2.HDRV3.autoclear.unknown_ignore): autoclear bits this writer does
  // not know are cleared before it changes anything their feature may
  // describe.
  const uint64_t known = kAutoclearBitmaps | kAutoclearRawDataFile;
  if (header_.version >= 3 && (header_.autoclear_features & ~known) != 0) {
    header_.autoclear_features &= known;
    constexpr Field field = HeaderField::kAutoclearFeatures;
    uint8_t f[field.width];
    StoreField(f, Alone(field), header_.autoclear_features);
    QCOW2REF_RETURN_IF_ERROR(store_->WriteAt(field.offset, f, sizeof(f)));
    QCOW2REF_RETURN_IF_ERROR(store_->Flush());
  }
  if (!rebuild_pending_) return OkStatus();
  rebuild_pending_ = false;
  QCOW2REF_ASSIGN_OR_RETURN(RebuildSummary done,
                            RebuildRefcounts(store_.get()));
  (void)done;
  // New refcount table, dirty bit cleared, COPIED bits fixed: read the
  // header fields and tables again.
  uint8_t h[HeaderField::kIncompatibleFeatures.end()];
  QCOW2REF_RETURN_IF_ERROR(store_->ReadAt(0, h, sizeof(h)));
  header_.refcount_table_offset =
      LoadField(h, HeaderField::kRefcountTableOffset);
  header_.refcount_table_clusters =
      LoadField<uint32_t>(h, HeaderField::kRefcountTableClusters);
  header_.incompatible_features =
      LoadField(h, HeaderField::kIncompatibleFeatures);
  return LoadTables();
}

Status ImageWriter::CheckGuestDataMayChange() const {
  // SPEC(QX.WRITE.enabled_bitmap_refused): an enabled bitmap already marked
  // in use is inconsistent (a writer died with it open); a change would be
  // recorded in a bitmap nobody can trust, so nothing is written.
  if (!inconsistent_bitmap_.empty()) {
    return Unsupported("QX.WRITE.enabled_bitmap_refused", std::nullopt,
                       "the enabled persistent bitmap '" +
                           inconsistent_bitmap_ +
                           "' is marked in use (inconsistent): remove it "
                           "first (qemu-img bitmap --remove)");
  }
  return OkStatus();
}

// ---------------------------------------------------------------- refcounts

Result<std::vector<uint8_t>*> ImageWriter::RefBlock(uint64_t index,
                                                    bool create) {
  auto it = refblocks_.find(index);
  if (it != refblocks_.end()) return &it->second;
  if (index >= reftable_.size()) {
    return IoError("refcount table does not cover the cluster");
  }
  const uint64_t off = reftable_[index];
  std::vector<uint8_t> block(g_.cluster_size, 0);
  if (off != 0) {
    QCOW2REF_RETURN_IF_ERROR(
        store_->ReadAtZeroFilled(off, block.data(), block.size()));
    return &(refblocks_[index] = std::move(block));
  }
  if (!create) return nullptr;
  // A new refcount block at the end of the file. It describes itself when
  // it falls in its own range; otherwise its own count goes in the block
  // that covers it (recursively).
  const uint64_t at = next_free_;
  next_free_ += g_.cluster_size;
  const uint64_t per_block = (g_.cluster_size * 8) >> header_.refcount_order;
  const uint64_t self = at >> g_.cluster_bits;
  if (self / per_block == index) {
    qcow2ref::SetRefcount(block.data(), self % per_block,
                          header_.refcount_order, 1);
  }
  // SPEC(QX.WRITE.order_refblock): the block is durable before the table
  // entry that points to it.
  QCOW2REF_RETURN_IF_ERROR(store_->WriteAt(at, block.data(), block.size()));
  QCOW2REF_RETURN_IF_ERROR(store_->Flush());
  uint8_t e[8];
  StoreBe64(e, at);
  QCOW2REF_RETURN_IF_ERROR(store_->WriteAt(reftable_offset_ + 8 * index, e, 8));
  QCOW2REF_RETURN_IF_ERROR(store_->Flush());
  reftable_[index] = at;
  std::vector<uint8_t>* out = &(refblocks_[index] = std::move(block));
  if (self / per_block != index) {
    QCOW2REF_RETURN_IF_ERROR(SetRefcount(self, 1));
  }
  return out;
}

Result<uint64_t> ImageWriter::Refcount(uint64_t cluster) {
  QCOW2REF_RETURN_IF_ERROR(PrepareForWriting());
  const uint64_t per_block = (g_.cluster_size * 8) >> header_.refcount_order;
  if (cluster / per_block >= reftable_.size()) return uint64_t{0};
  QCOW2REF_ASSIGN_OR_RETURN(std::vector<uint8_t> * b,
                            RefBlock(cluster / per_block, false));
  if (b == nullptr) return uint64_t{0};
  return GetRefcount(b->data(), cluster % per_block, header_.refcount_order);
}

Status ImageWriter::SetRefcount(uint64_t cluster, uint64_t value) {
  QCOW2REF_RETURN_IF_ERROR(PrepareForWriting());
  const uint64_t per_block = (g_.cluster_size * 8) >> header_.refcount_order;
  const uint64_t max = header_.refcount_order >= 6
                           ? UINT64_MAX
                           : (uint64_t{1} << header_.refcount_bits()) - 1;
  // SPEC(Q2.RC.max_references)
  if (value > max) {
    return Unsupported("Q2.RC.max_references", cluster << g_.cluster_bits,
                       "the refcount would overflow the refcount width");
  }
  QCOW2REF_RETURN_IF_ERROR(EnsureCoverage(cluster + 1));
  QCOW2REF_ASSIGN_OR_RETURN(std::vector<uint8_t> * b,
                            RefBlock(cluster / per_block, true));
  qcow2ref::SetRefcount(b->data(), cluster % per_block, header_.refcount_order,
                        value);
  const uint64_t entry_bytes =
      std::max<uint64_t>(1, header_.refcount_bits() / 8);
  // Write the byte(s) holding the entry (sub-byte widths: the whole byte).
  const uint64_t byte = (cluster % per_block) * header_.refcount_bits() / 8;
  return store_->WriteAt(reftable_[cluster / per_block] + byte,
                         b->data() + byte, entry_bytes);
}

Status ImageWriter::EnsureCoverage(uint64_t clusters) {
  QCOW2REF_RETURN_IF_ERROR(PrepareForWriting());
  const uint64_t per_block = (g_.cluster_size * 8) >> header_.refcount_order;
  // Leave room for the blocks and the table a growth itself needs.
  if (DivRoundUp(clusters + 64, per_block) <= reftable_.size()) {
    return OkStatus();
  }
  // SPEC(QX.WRITE.order_reftable): a bigger refcount table is written in
  // full, with blocks for everything it must describe, before the header
  // points to it; the old table is freed afterwards.
  uint64_t entries = std::max<uint64_t>(reftable_.size() * 2,
                                        DivRoundUp(clusters + 64, per_block));
  uint64_t table_clusters = DivRoundUp(entries * 8, g_.cluster_size);
  entries = table_clusters * g_.cluster_size / 8;
  if (table_clusters * g_.cluster_size > kMaxRefcountTableBytes) {
    return Unsupported("QX.LIMIT.refcount_table_size", std::nullopt,
                       "the refcount table would exceed 8 MiB");
  }
  const uint64_t old_offset = reftable_offset_;
  const uint64_t old_clusters =
      DivRoundUp(reftable_.size() * 8, g_.cluster_size);
  const uint64_t old_entries = old_clusters * g_.cluster_size / 8;
  const uint64_t table_at = next_free_;
  next_free_ += table_clusters * g_.cluster_size;
  reftable_.resize(entries, 0);
  // Place a block for every index the new table's own clusters (and the
  // blocks placed here) fall in; nothing is written yet.
  std::vector<uint64_t> new_blocks;
  for (uint64_t at = table_at; at < next_free_; at += g_.cluster_size) {
    const uint64_t index = (at >> g_.cluster_bits) / per_block;
    if (reftable_[index] != 0) continue;
    reftable_[index] = next_free_;
    new_blocks.push_back(index);
    QCOW2REF_ASSIGN_OR_RETURN(std::vector<uint8_t> * unused,
                              RefBlock(index, false));
    (void)unused;
    next_free_ += g_.cluster_size;
  }
  // Counts for the table and the new blocks, in memory; then every touched
  // block is written, then (after a barrier) the old table's entries for
  // new blocks it covers: a block is never pointed to before it holds its
  // own count.
  for (uint64_t at = table_at; at < next_free_; at += g_.cluster_size) {
    const uint64_t c = at >> g_.cluster_bits;
    QCOW2REF_ASSIGN_OR_RETURN(std::vector<uint8_t> * b,
                              RefBlock(c / per_block, false));
    qcow2ref::SetRefcount(b->data(), c % per_block, header_.refcount_order, 1);
  }
  for (auto& [index, block] : refblocks_) {
    if (reftable_[index] != 0) {
      QCOW2REF_RETURN_IF_ERROR(
          store_->WriteAt(reftable_[index], block.data(), block.size()));
    }
  }
  QCOW2REF_RETURN_IF_ERROR(store_->Flush());
  for (uint64_t index : new_blocks) {
    if (index >= old_entries) continue;
    uint8_t e[8];
    StoreBe64(e, reftable_[index]);
    QCOW2REF_RETURN_IF_ERROR(store_->WriteAt(old_offset + 8 * index, e, 8));
  }
  std::vector<uint8_t> table(table_clusters * g_.cluster_size, 0);
  for (uint64_t i = 0; i < reftable_.size(); ++i) {
    StoreBe64(table.data() + 8 * i, reftable_[i]);
  }
  QCOW2REF_RETURN_IF_ERROR(
      store_->WriteAt(table_at, table.data(), table.size()));
  QCOW2REF_RETURN_IF_ERROR(store_->Flush());
  // The refcount table's offset and size, adjacent fields, in one write.
  constexpr Field at_field = HeaderField::kRefcountTableOffset;
  constexpr Field n_field = HeaderField::kRefcountTableClusters;
  uint8_t h[n_field.end() - at_field.offset];
  StoreField(h, Rebased(at_field, at_field.offset), table_at);
  StoreField(h, Rebased(n_field, at_field.offset), table_clusters);
  QCOW2REF_RETURN_IF_ERROR(store_->WriteAt(at_field.offset, h, sizeof(h)));
  QCOW2REF_RETURN_IF_ERROR(store_->Flush());
  reftable_offset_ = table_at;
  header_.refcount_table_offset = table_at;
  header_.refcount_table_clusters = static_cast<uint32_t>(table_clusters);
  for (uint64_t i = 0; i < old_clusters; ++i) {
    QCOW2REF_RETURN_IF_ERROR(
        SetRefcount((old_offset >> g_.cluster_bits) + i, 0));
  }
  return OkStatus();
}

Result<uint64_t> ImageWriter::Allocate(uint64_t clusters) {
  QCOW2REF_RETURN_IF_ERROR(PrepareForWriting());
  QCOW2REF_RETURN_IF_ERROR(
      EnsureCoverage((next_free_ >> g_.cluster_bits) + clusters + 1));
  const uint64_t at = next_free_;
  next_free_ += clusters * g_.cluster_size;
  for (uint64_t i = 0; i < clusters; ++i) {
    QCOW2REF_RETURN_IF_ERROR(SetRefcount((at >> g_.cluster_bits) + i, 1));
  }
  // Blocks allocated meanwhile may sit past `at`: keep the pointer beyond.
  return at;
}

Result<uint64_t> ImageWriter::PlaceCompressed(uint64_t bytes) {
  // SPEC(QX.WRITE.compressed_dense): compressed clusters are packed back to
  // back, byte for byte as QEMU packs them, continuing into the next host
  // cluster when it is the next one allocated. Every host cluster a
  // compressed cluster touches counts one reference for it
  // (Q2.RC.covers_references); the counts are raised here, before any
  // pointer names the data (QX.WRITE.order_data_before_pointer).
  const uint64_t cs = g_.cluster_size;
  const uint64_t at = compressed_next_;
  if (at % cs != 0) {
    const uint64_t cluster = at >> g_.cluster_bits;
    const uint64_t cluster_end = (cluster + 1) * cs;
    const uint64_t room = cluster_end - at;
    const uint64_t more = bytes > room ? DivRoundUp(bytes - room, cs) : 0;
    const uint64_t max = header_.refcount_order >= 6
                             ? UINT64_MAX
                             : (uint64_t{1} << header_.refcount_bits()) - 1;
    QCOW2REF_ASSIGN_OR_RETURN(uint64_t rc, Refcount(cluster));
    // Growing the refcount structures first may place blocks at the end of
    // the file; the data may continue only into the very next cluster.
    if (more > 0) {
      QCOW2REF_RETURN_IF_ERROR(
          EnsureCoverage((next_free_ >> g_.cluster_bits) + more + 1));
    }
    if (rc < max && (more == 0 || next_free_ == cluster_end)) {
      QCOW2REF_RETURN_IF_ERROR(SetRefcount(cluster, rc + 1));
      if (more > 0) {
        QCOW2REF_ASSIGN_OR_RETURN(uint64_t next, Allocate(more));
        if (next != cluster_end) {
          return IoError("internal: compressed data lost its contiguity");
        }
      }
      compressed_next_ = at + bytes;
      return at;
    }
  }
  QCOW2REF_ASSIGN_OR_RETURN(uint64_t fresh, Allocate(DivRoundUp(bytes, cs)));
  compressed_next_ = fresh + bytes;
  return fresh;
}

// ------------------------------------------------------------------- tables

Result<std::vector<uint8_t>*> ImageWriter::L2Table(uint64_t offset) {
  auto it = l2_cache_.find(offset);
  if (it != l2_cache_.end()) return &it->second;
  std::vector<uint8_t> t(g_.cluster_size);
  QCOW2REF_RETURN_IF_ERROR(
      store_->ReadAtZeroFilled(offset, t.data(), t.size()));
  if (l2_cache_.size() > 64) l2_cache_.clear();
  return &(l2_cache_[offset] = std::move(t));
}

uint64_t ImageWriter::L2EntryAt(const std::vector<uint8_t>& t,
                                uint64_t i) const {
  return LoadBe64(t.data() + i * g_.l2_entry_bytes);
}

uint64_t ImageWriter::L2BitmapAt(const std::vector<uint8_t>& t,
                                 uint64_t i) const {
  return g_.extended_l2 ? LoadBe64(t.data() + i * g_.l2_entry_bytes + 8) : 0;
}

Status ImageWriter::EncryptFor(uint64_t guest, uint64_t host, uint8_t* data,
                               size_t length) {
  if (header_.crypt_method == CryptMethod::kNone) return OkStatus();
  return cipher_->Encrypt(data, length, PayloadIvSector(header_, guest, host));
}

Status ImageWriter::ReadCluster(uint64_t gc, uint8_t* out) {
  const uint64_t guest = gc << g_.cluster_bits;
  const uint64_t len = std::min(g_.cluster_size, header_.size - guest);
  std::memset(out, 0, g_.cluster_size);
  return Read(guest, out, len);
}

Status ImageWriter::Read(uint64_t offset, uint8_t* out, uint64_t length) {
  return layer_->Read(offset, out, length);
}

}  // namespace qcow2ref
