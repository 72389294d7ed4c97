// Writing guest data into a qcow2 image with crash-safe ordering
// (QX.WRITE.order_*): data and refcount increments are made durable before
// any pointer to them, pointers before refcount decrements. Allocation
// appends clusters at the end of the file. Every operation leaves an image
// that opens; a crash can only leak clusters.
#ifndef QCOW2REF_REFERENCE_WRITER_IMAGE_WRITER_H_
#define QCOW2REF_REFERENCE_WRITER_IMAGE_WRITER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "reference/image/image.h"
#include "reference/io/byte_store.h"
#include "reference/writer/writer_options.h"

namespace qcow2ref {

struct WriterOptions {
  const SecretBytes* secret = nullptr;  // Needed for encrypted images.
  bool allow_any_path = false;          // For the backing file (COW reads).
  std::string directory = ".";          // Where referenced files live.
  // The external data file, opened read-write by the caller.
  std::unique_ptr<ByteStore> data_file;
};

class ImageWriter {
 public:
  // Creates a new image in `store` (empty) and opens it for writing.
  static Result<std::unique_ptr<ImageWriter>> Create(
      std::unique_ptr<ByteStore> store, const CreateOptions& options,
      WriterOptions writer_options);
  // Opens an existing image for writing.
  static Result<std::unique_ptr<ImageWriter>> Open(
      std::unique_ptr<ByteStore> store, WriterOptions options);
  ~ImageWriter();

  uint64_t size() const { return header_.size; }
  const Header& header() const { return header_; }

  // Guest writes. Offsets and lengths are bytes; the range must lie inside
  // the virtual disk.
  Status Write(uint64_t offset, const uint8_t* data, uint64_t length);
  // Reads as zeros afterwards.
  Status WriteZeroes(uint64_t offset, uint64_t length);
  // Frees the range; it reads as zeros afterwards (QX.WRITE.discard).
  Status Discard(uint64_t offset, uint64_t length);
  // Compressed clusters: `offset` cluster aligned, whole clusters (the last
  // one may end at the end of the disk). A cluster that does not shrink is
  // stored uncompressed.
  Status WriteCompressed(uint64_t offset, const uint8_t* data, uint64_t length);
  // The checks Write (compressed: WriteCompressed) makes before writing
  // anything, for callers that split one request into several calls.
  Status CheckWrite(uint64_t offset, uint64_t length, bool compressed) const;
  // Makes every write so far durable: the acknowledgement point.
  Status Flush();

  // Internal snapshots (Q2.SNAP.*): create copies the active L1 table and
  // adds a reference to every L2 table and cluster it maps; delete and apply
  // undo and redo that. Clusters shared with a snapshot are copied before
  // they are written (QX.WRITE.cow_l2).
  Status SnapshotCreate(const std::string& name);
  Status SnapshotDelete(const std::string& id_or_name);
  Status SnapshotApply(const std::string& id_or_name);
  const std::vector<Snapshot>& snapshots() const { return snapshots_; }

  // Persistent dirty bitmaps edited as `qemu-img bitmap` edits them
  // (bitmap_edit.cc, QX.WRITE.bitmap_*). `granularity` 0 is the default:
  // the cluster size clamped to 4 KiB..64 KiB, as qemu-img chooses.
  Status BitmapAdd(const std::string& name, uint64_t granularity,
                   bool disabled);
  Status BitmapRemove(const std::string& name);
  Status BitmapClear(const std::string& name);
  Status BitmapSetEnabled(const std::string& name, bool enabled);
  // Sets in `target` every granule that `source` marks dirty.
  Status BitmapMerge(const std::string& source, const std::string& target);

  // Reads guest bytes as the image now holds them (the reader's path,
  // image/layer_reader.h, over this writer's tables).
  Status Read(uint64_t offset, uint8_t* out, uint64_t length);

 private:
  ImageWriter() = default;
  class Batch;
  class OwnTables;
  Status Load(WriterOptions options);
  // L1 table and refcount table from the header; caches dropped.
  Status LoadTables();
  // Before the first refcount is read or changed: unknown autoclear bits
  // cleared, and the deferred rebuild of a dirty image
  // (QX.WRITE.dirty_refused).
  Status PrepareForWriting();
  // Fails when guest data must not change (QX.WRITE.enabled_bitmap_refused).
  Status CheckGuestDataMayChange() const;
  // Persistent dirty bitmaps (bitmap_tracking.cc, QX.WRITE.bitmaps_kept),
  // as the reader listed them when the image was opened.
  Status LoadBitmaps(const Image& opened);
  Status MarkDirty(uint64_t offset, uint64_t length);
  Status StoreBitmaps();
  // The bitmap directory as the file holds it now, and its rewrite.
  struct BitmapDir {
    std::vector<BitmapEntry> entries;
    std::vector<std::vector<uint8_t>> raw;  // Each entry's exact bytes.
    bool valid = false;                     // Extension present and trusted.
    uint64_t offset = 0, size = 0;
  };
  Result<BitmapDir> ReadBitmapDir();
  Status CommitBitmapDir(const BitmapDir& old,
                         std::vector<std::vector<uint8_t>> raw,
                         std::vector<std::pair<uint64_t, uint64_t>> frees);
  Status RewriteHeaderCluster(const uint8_t* bitmaps_ext, bool autoclear_bit);
  Result<std::vector<uint8_t>> ReadBitmapBits(const BitmapEntry& b);
  Result<uint64_t> WriteBitmapBits(const std::vector<uint8_t>& bits,
                                   uint32_t table_size);
  Status FreeBitmapTable(const BitmapEntry& b,
                         std::vector<std::pair<uint64_t, uint64_t>>* frees);
  Status TrackBitmaps(const std::vector<BitmapEntry>& all);
  // Refcounts.
  Result<uint64_t> Refcount(uint64_t cluster);
  Status SetRefcount(uint64_t cluster, uint64_t value);
  Status EnsureCoverage(uint64_t clusters);
  Result<std::vector<uint8_t>*> RefBlock(uint64_t index, bool create);
  Result<uint64_t> Allocate(uint64_t clusters);
  // Where `bytes` of compressed data go: right after the previous compressed
  // cluster when they fit (or the next cluster is free to continue into),
  // else at the start of new clusters. Counts the references.
  Result<uint64_t> PlaceCompressed(uint64_t bytes);
  // Tables.
  Result<std::vector<uint8_t>*> L2Table(uint64_t offset);
  uint64_t L2EntryAt(const std::vector<uint8_t>& t, uint64_t i) const;
  uint64_t L2BitmapAt(const std::vector<uint8_t>& t, uint64_t i) const;
  Status ReadCluster(uint64_t guest_cluster, uint8_t* out);
  Status WriteClusters(uint64_t first_cluster, uint64_t count,
                       const std::vector<std::vector<uint8_t>>& contents,
                       bool compress, bool zero);
  // Prepares the copy of a shared L2 table: its entries lose COPIED (the
  // clusters they map stay shared; no count changes).
  void ClearCopiedFlags(std::vector<uint8_t>* table) const;
  // Calls `visit(cluster, n)` for the references `l1` holds (its L2 tables
  // and the clusters they map): once per distinct L2 table and entry, `n`
  // being the number of L1 entries that name the table.
  Status ForEachReference(
      const std::vector<uint64_t>& l1,
      const std::function<Status(uint64_t cluster, uint64_t count)>& visit);
  Status AdjustL1References(const std::vector<uint64_t>& l1, int delta);
  // Q2.RC.max_references: one more reference to everything `l1` reaches
  // fits the refcount width (checked before a snapshot writes anything).
  Status CheckReferencesFit(const std::vector<uint64_t>& l1);
  Status SetCopiedFlags(bool clear_all);
  Status WriteSnapshotTable(std::vector<Snapshot> snapshots);
  Status EncryptFor(uint64_t guest, uint64_t host, uint8_t* data,
                    size_t length);

  std::unique_ptr<ByteStore> store_;
  std::unique_ptr<ByteStore> data_file_;
  // What the reader opened that stays valid while this writer writes: the
  // layer below (backing file) and the payload cipher.
  BackingLayer below_;
  std::unique_ptr<SectorCipher> cipher_;
  // This layer read through the writer's own tables.
  std::unique_ptr<OwnTables> own_tables_;
  std::unique_ptr<LayerReader> layer_;
  Header header_;
  Geometry g_;
  std::vector<uint64_t> l1_;
  std::vector<uint64_t> reftable_;
  uint64_t reftable_offset_ = 0;
  uint64_t next_free_ = 0;        // Append pointer, cluster aligned.
  bool rebuild_pending_ = false;  // Dirty image: rebuild before writing.
  bool prepared_ = false;         // PrepareForWriting done.
  uint64_t compressed_next_ = 0;  // Byte after the last compressed data.
  std::map<uint64_t, std::vector<uint8_t>> refblocks_;
  std::map<uint64_t, std::vector<uint8_t>> l2_cache_;
  std::vector<Snapshot> snapshots_;
  // Enabled bitmaps kept up to date, and the one already in use
  // (inconsistent) that stops guest changes, if any.
  std::vector<BitmapEntry> tracked_;
  std::string inconsistent_bitmap_;
  std::vector<std::pair<uint64_t, uint64_t>> dirty_;  // [start, end)
  bool bitmaps_in_use_ = false;
  uint64_t bitmap_directory_offset_ = 0;
  uint64_t bitmap_directory_size_ = 0;
  uint64_t bitmap_directory_field_ = 0;  // Header offset of its pointer.
};

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_WRITER_IMAGE_WRITER_H_
