// The one path from guest offsets to guest bytes of one layer: L1 and L2
// tables -> extents -> bytes (copied, zero-filled, inflated, decrypted, or
// read from the layer below). The reader (Image) and the writer
// (ImageWriter) both read through it; they differ only in where the tables
// come from (LayerTables): the reader's read-only caches, or the writer's
// write-through tables, which see every pointer written so far.
#ifndef QCOW2REF_REFERENCE_IMAGE_LAYER_READER_H_
#define QCOW2REF_REFERENCE_IMAGE_LAYER_READER_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "reference/crypto/sector_cipher.h"
#include "reference/format/cluster_entries.h"
#include "reference/format/header.h"
#include "reference/io/byte_source.h"
#include "reference/status/status.h"

namespace qcow2ref {

// One run of guest bytes with the same source, within one layer.
struct Extent {
  uint64_t guest_offset = 0;
  uint64_t length = 0;
  ClusterKind kind = ClusterKind::kUnallocated;
  // Host offset of guest_offset: always for kNormal; for kZero and
  // kUnallocated when the cluster still owns a host cluster (a zeroed
  // allocated cluster, or an unallocated subcluster of an allocated one).
  uint64_t host_offset = 0;
  bool has_host = false;
  // kCompressed: the cluster's descriptor (the extent lies inside it).
  uint64_t compressed_offset = 0;
  uint64_t compressed_bytes = 0;
  uint64_t cluster_guest_offset = 0;
};

// Where one layer's mapping tables come from.
class LayerTables {
 public:
  virtual ~LayerTables() = default;
  // Guest-visible size of the view (active layer or snapshot).
  virtual uint64_t guest_size() const = 0;
  // Host offset of the L1 table (for error offsets).
  virtual uint64_t l1_offset() const = 0;
  virtual uint64_t l1_size() const = 0;
  virtual uint64_t l1_entry(uint64_t index) const = 0;
  // The cluster_size bytes of the L2 table at `offset`, which the mapping
  // has checked to be cluster aligned and to start inside the file.
  virtual Result<const uint8_t*> l2_table(uint64_t offset) const = 0;
};

// The files and keys one layer's bytes are read from.
struct LayerFiles {
  const Header* header = nullptr;
  const Geometry* geometry = nullptr;
  const ByteSource* file = nullptr;       // The image file.
  const ByteSource* data_file = nullptr;  // External data file, if opened.
  bool data_file_named = false;           // The extension names one.
  SectorCipher* cipher = nullptr;         // Null until a secret is accepted.
  // A data cluster that starts past the end of its file reads as zeros (as
  // QEMU reads it) instead of being refused (QX.MAP.beyond_eof, a reader's
  // rule): the writer's copy-on-write reads.
  bool data_past_eof_reads_zero = false;
  // What an unallocated range shows (the backing file, or zeros).
  std::function<Status(uint64_t offset, uint8_t* out, uint64_t length)>
      read_below;
};

// The sector number whose IV encrypts the payload sector at `guest_offset`
// (stored at `host_offset`): both offsets of the same sector start.
uint64_t PayloadIvSector(const Header& header, uint64_t guest_offset,
                         uint64_t host_offset);

// Reads and decodes `entries` L1 entries at `offset` of `file` (bytes past
// the end of the file read as zero).
Result<std::vector<uint64_t>> ReadL1Table(const ByteSource& file,
                                          uint64_t offset, uint32_t entries);

class LayerReader {
 public:
  LayerReader(LayerFiles files, const LayerTables* tables)
      : files_(std::move(files)), tables_(tables) {}

  // Maps [offset, offset + length) of this layer into extents.
  Result<std::vector<Extent>> Map(uint64_t offset, uint64_t length) const;
  // The bytes of one extent of this layer (unallocated: the layer below).
  Status ReadExtent(const Extent& e, uint8_t* out) const;
  // Map, then ReadExtent for each extent.
  Status Read(uint64_t offset, uint8_t* out, uint64_t length) const;
  // The file a kNormal extent's bytes are stored in (the image or its
  // external data file), or why they cannot be read.
  Result<const ByteSource*> DataFileOf(const Extent& e) const;
  const SectorCipher* cipher() const { return files_.cipher; }
  // Why an encrypted layer's data cannot be decrypted (no key), if so.
  Status CheckPayloadKey() const;

 private:
  Status ReadCompressed(const Extent& e, uint8_t* out) const;
  Status ReadData(const Extent& e, uint8_t* out) const;
  Status DecryptData(const Extent& e, const ByteSource& src,
                     uint8_t* out) const;

  LayerFiles files_;
  const LayerTables* tables_;
  // Last decompressed cluster, keyed by its whole descriptor.
  mutable uint64_t decompressed_at_ = UINT64_MAX;
  mutable uint64_t decompressed_bytes_ = 0;
  mutable std::vector<uint8_t> decompressed_;
};

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_IMAGE_LAYER_READER_H_
