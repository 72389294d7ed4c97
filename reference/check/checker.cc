#include "reference/check/checker.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "reference/crypto/luks_fields.h"
#include "reference/format/cluster_entries.h"
#include "reference/format/compression.h"
#include "reference/format/header_fields.h"
#include "reference/format/limits.h"
#include "reference/format/refcount.h"
#include "reference/format/snapshot_fields.h"
#include "reference/image/image.h"
#include "reference/io/byte_store.h"
#include "reference/io/referenced_file.h"
#include "reference/status/checked_math.h"
#include "reference/status/endian.h"

namespace qcow2ref {
namespace {

// The checker refuses files whose cluster map would exceed this many
// clusters (QX.LIMIT.open_memory: 2^28 clusters = 2.5 GiB of counters).
constexpr uint64_t kMaxCheckedClusters = uint64_t{1} << 28;

class Checker {
 public:
  Checker(const Image& img, const CheckOptions& options, CheckReport* report)
      : img_(img),
        h_(img.header()),
        g_(img.geometry()),
        file_(img.file()),
        options_(options),
        report_(report) {}

  std::unique_ptr<ClusterUsage> Run();

 private:
  void Add(Severity s, const char* clause, std::optional<uint64_t> at,
           std::string message) {
    report_->Add({s, clause, at, std::move(message)});
  }
  void Corrupt(const char* clause, std::optional<uint64_t> at,
               std::string message) {
    Add(Severity::kCorruption, clause, at, std::move(message));
  }
  // References [offset, offset+length) and reports an overlap.
  void Use(uint64_t offset, uint64_t length, Owner owner, uint64_t count = 1);
  // Reads a table that must lie inside the file; false (with a finding) if
  // it does not.
  bool ReadTable(uint64_t offset, uint64_t length, const char* clause,
                 const char* what, std::vector<uint8_t>* out);

  void CheckHeader();
  void CheckDataFileIdentity();
  // Checks the L1 table at `offset` once for every view naming it: `sizes`
  // maps each L1 size to the number of views with that size (snapshots may
  // name overlapping prefixes of one table).
  void CheckL1Table(uint64_t offset, const std::map<uint32_t, uint64_t>& sizes,
                    bool active);
  void CheckL2Table(uint64_t offset, uint64_t multiplicity, bool active);
  // guest_offset: the guest offset the entry maps when known (active L2).
  void CheckDataEntry(uint64_t entry, uint64_t bitmap, uint64_t at,
                      uint64_t multiplicity, bool active,
                      std::optional<uint64_t> guest_offset);
  void CheckSnapshots();
  void CheckBitmaps();
  void CheckLuks();
  void CheckKeyVerification();
  void CheckRefcounts();
  void CheckCopiedFlags();

  const Image& img_;
  const Header& h_;
  const Geometry& g_;
  const ByteSource& file_;
  const CheckOptions& options_;
  CheckReport* report_;
  std::unique_ptr<ClusterUsage> usage_;
  // Distinct L2 tables -> references, collected from every L1 table.
  std::map<uint64_t, uint64_t> l2_refs_;
  std::set<uint64_t> active_l2_;
  // Active L2 table -> the first L1 index naming it (guest offsets).
  std::map<uint64_t, uint64_t> l2_first_index_;
  // COPIED checks deferred until all references are known.
  struct CopiedCheck {
    uint64_t entry_at;
    uint64_t cluster;
    bool copied;
    bool is_l2_table;
  };
  std::vector<CopiedCheck> copied_;
  uint64_t refcount_max_ = 0;
  std::vector<uint64_t> stored_;  // Stored refcount per file cluster.
  // Compressed descriptors (offset, bytes read) already decompressed, with
  // the error if the stream was bad.
  std::map<std::pair<uint64_t, uint64_t>, std::optional<std::string>>
      decompressed_;
};

void Checker::Use(uint64_t offset, uint64_t length, Owner owner,
                  uint64_t count) {
  if (!usage_->Reference(offset, length, owner, count)) {
    // SPEC(QX.CHECK.overlap)
    constexpr const char* kOverlap = "QX.CHECK.overlap";
    if (report_->Full(kOverlap)) {
      report_->Omit(kOverlap, Severity::kCorruption);
      return;
    }
    const uint64_t at = usage_->last_overlap() << g_.cluster_bits;
    Corrupt("QX.CHECK.overlap", at,
            std::string(OwnerName(owner)) + " overlaps the " +
                OwnerName(usage_->last_overlap_other()) + " in cluster " +
                std::to_string(usage_->last_overlap()));
  }
}

bool Checker::ReadTable(uint64_t offset, uint64_t length, const char* clause,
                        const char* what, std::vector<uint8_t>* out) {
  if (!RangeWithin(offset, length, file_.Size())) {
    Corrupt(clause, offset,
            std::string(what) + " at " + std::to_string(offset) + " (" +
                std::to_string(length) + " bytes) exceeds the end of the file");
    report_->check_errors = true;
    return false;
  }
  out->resize(length);
  if (!file_.ReadAt(offset, out->data(), length).ok()) {
    report_->check_errors = true;
    return false;
  }
  return true;
}

void Checker::CheckHeader() {
  // SPEC(Q2.HDRV3.padding.zero)
  if (h_.version >= 3) {
    const size_t pad_end = std::min<size_t>(h_.trailing.size(), 7);
    for (size_t i = 0; i < pad_end; ++i) {
      if (h_.trailing[i] != 0) {
        Add(Severity::kWarning, "Q2.HDRV3.padding.zero",
            HeaderField::kCompressionType.end() + i,
            "header padding after compression_type is not zero");
        break;
      }
    }
  }
  // SPEC(Q2.FNT.type)
  for (const FeatureName& f : img_.extensions().feature_names) {
    if (f.type > 2 || f.bit > 63) {
      Corrupt("Q2.FNT.type", std::nullopt,
              "feature name entry '" + f.name + "' has type " +
                  std::to_string(f.type) + " bit " + std::to_string(f.bit));
    }
  }
  // SPEC(Q2.XDF.raw_no_backing)
  if ((h_.autoclear_features & kAutoclearRawDataFile) && img_.backing_name()) {
    Corrupt("Q2.XDF.raw_no_backing", HeaderField::kAutoclearFeatures.offset,
            "a raw external data file image has a backing file");
  }
  // SPEC(Q2.SNAP.not_with_xdf)
  if (h_.has_data_file() && h_.nb_snapshots > 0) {
    Corrupt("Q2.SNAP.not_with_xdf", HeaderField::kNbSnapshots.offset,
            "an image with an external data file has internal snapshots");
  }
  CheckDataFileIdentity();
  Use(0, g_.cluster_size, Owner::kHeader);
}

void Checker::CheckDataFileIdentity() {
  const auto& name = img_.extensions().data_file;
  const auto self = file_.Identity();
  if (!h_.has_data_file() || !name || !self || options_.directory.empty()) {
    return;
  }
  ReferenceRequest request;
  request.directory = options_.directory;
  request.name = *name;
  // SPEC(QX.BK.same_file): stat, never open: check reads no named file.
  if (IdentityOfPath(ReferencedPath(request)) == self) {
    Corrupt("QX.BK.same_file", std::nullopt,
            "the external data file name '" + *name +
                "' names the image itself: guest writes would overwrite its "
                "metadata");
  }
}

void Checker::CheckL1Table(uint64_t offset,
                           const std::map<uint32_t, uint64_t>& sizes,
                           bool active) {
  // SPEC(QX.LIMIT.check_tables_once): one read of the largest prefix that
  // lies in the file; each entry counts once per view that includes it.
  std::vector<uint8_t> raw;
  std::map<uint32_t, uint64_t> readable;
  for (auto it = sizes.rbegin(); it != sizes.rend(); ++it) {
    if (it->first == 0) continue;
    const uint64_t bytes = uint64_t{it->first} * 8;
    if (readable.empty() &&
        !ReadTable(offset, bytes, "Q2.MAP.host_in_file",
                   active ? "the L1 table" : "a snapshot L1 table", &raw)) {
      continue;
    }
    if (!readable.empty() && !RangeWithin(offset, bytes, file_.Size())) {
      continue;
    }
    readable[it->first] = it->second;
  }
  if (readable.empty()) return;
  uint64_t multiplicity = 0;
  for (const auto& [size, count] : readable) {
    Use(offset, uint64_t{size} * 8, active ? Owner::kL1 : Owner::kSnapshotL1,
        count);
    multiplicity += count;
  }
  const uint32_t entries = readable.rbegin()->first;
  auto next_end = readable.begin();
  for (uint32_t i = 0; i < entries; ++i) {
    // Views shorter than entry i no longer count.
    while (next_end->first <= i) {
      multiplicity -= next_end->second;
      ++next_end;
    }
    const uint64_t at = offset + 8 * uint64_t{i};
    const uint64_t e = LoadBe64(raw.data() + 8 * i);
    // SPEC(Q2.MAP.l1_entry.reserved)
    if (e & kL1ReservedMask) {
      Corrupt("Q2.MAP.l1_entry.reserved", at,
              "L1 entry " + std::to_string(i) + " has reserved bits set");
    }
    const uint64_t l2 = L1EntryL2Offset(e);
    if (l2 == 0) continue;
    if (l2 % g_.cluster_size != 0) {
      Corrupt("Q2.MAP.l1_entry.aligned", at,
              "L2 table offset " + std::to_string(l2) + " is not aligned");
      continue;
    }
    l2_refs_[l2] += multiplicity;
    if (active) {
      active_l2_.insert(l2);
      l2_first_index_.emplace(l2, i);
      copied_.push_back(
          {at, l2 >> g_.cluster_bits, (e & kEntryCopied) != 0, true});
    }
  }
}

void Checker::CheckDataEntry(uint64_t entry, uint64_t bitmap, uint64_t at,
                             uint64_t multiplicity, bool active,
                             std::optional<uint64_t> guest_offset) {
  auto decoded = DecodeL2Entry(g_, h_, entry, bitmap, at);
  if (!decoded.ok()) {
    const Error& e = decoded.error();
    report_->Add({Severity::kCorruption, e.clause, e.offset, e.message});
    return;
  }
  const ClusterDescriptor& d = *decoded;
  if (d.kind == ClusterKind::kCompressed) {
    ++report_->compressed_clusters;
    // SPEC(Q2.XL2.compressed_bitmap): unused; readers ignore it, so a
    // non-zero one is only a warning (qemu-img check calls it an error).
    if (g_.extended_l2 && bitmap != 0) {
      Add(Severity::kWarning, "Q2.XL2.compressed_bitmap", at + 8,
          "compressed entry with a non-zero subcluster bitmap");
    }
    // SPEC(Q2.CMP.no_copied)
    if (d.copied) {
      Corrupt("Q2.CMP.no_copied", at, "compressed entry has the COPIED bit");
    }
    // SPEC(Q2.MAP.host_in_file)
    if (d.compressed_offset >= file_.Size()) {
      Corrupt("Q2.MAP.host_in_file", at,
              "compressed cluster at " + std::to_string(d.compressed_offset) +
                  " exceeds the end of the file");
      return;
    }
    // Every host cluster the compressed bytes touch is referenced (the
    // descriptor's sector count may run a little past the end of the file).
    const uint64_t len =
        std::min(d.compressed_bytes, file_.Size() - d.compressed_offset);
    Use(d.compressed_offset, len, Owner::kCompressed, multiplicity);
    if (options_.decompress) {
      const uint64_t in_bytes = CompressedInputBytes(len, g_.cluster_size);
      // SPEC(QX.LIMIT.check_tables_once): one decompression per distinct
      // descriptor, however many entries (or repeated tables) name it.
      auto [it, fresh] = decompressed_.try_emplace(
          {d.compressed_offset, in_bytes}, std::optional<std::string>());
      if (fresh) {
        std::vector<uint8_t> in(in_bytes);
        std::vector<uint8_t> out(g_.cluster_size);
        if (file_.ReadAt(d.compressed_offset, in.data(), in.size()).ok()) {
          Status st =
              DecompressCluster(h_.compression_type, in.data(), in.size(),
                                out.data(), out.size(), d.compressed_offset);
          if (!st.ok()) it->second = st.error().message;
        }
      }
      if (it->second) Corrupt("Q2.CMP.exact_cluster", at, *it->second);
    }
    return;
  }
  // SPEC(Q2.MAP.l2_entry.reserved)
  if (d.reserved_bits != 0 && !g_.extended_l2) {
    Corrupt("Q2.MAP.l2_entry.reserved", at, "L2 entry has reserved bits set");
  }
  // SPEC(Q2.XL2.zero_bit_unused)
  if (g_.extended_l2 && (entry & kL2ZeroFlag)) {
    Corrupt("Q2.XL2.zero_bit_unused", at,
            "extended L2 entry has bit 0 set (zeros are in the bitmap)");
  }
  if (!d.owns_host) return;
  ++report_->allocated_clusters;
  // External data file clusters are not refcounted.
  if (h_.has_data_file()) {
    // SPEC(Q2.XDF.host_equals_guest)
    if (guest_offset && d.host_offset != *guest_offset) {
      Corrupt("Q2.XDF.host_equals_guest", at,
              "external data file cluster at host offset " +
                  std::to_string(d.host_offset) + " maps guest offset " +
                  std::to_string(*guest_offset));
    }
    return;
  }
  // SPEC(QX.MAP.beyond_eof): as the reader, which refuses such clusters.
  if (d.host_offset >= file_.Size()) {
    Corrupt("QX.MAP.beyond_eof", at,
            "data cluster at " + std::to_string(d.host_offset) +
                " exceeds the end of the file");
    return;
  }
  Use(d.host_offset, g_.cluster_size, Owner::kData, multiplicity);
  if (active) {
    copied_.push_back({at, d.host_offset >> g_.cluster_bits, d.copied, false});
  }
}

void Checker::CheckL2Table(uint64_t offset, uint64_t multiplicity,
                           bool active) {
  std::vector<uint8_t> raw;
  if (!ReadTable(offset, g_.cluster_size, "Q2.MAP.l2_table_in_file",
                 "an L2 table", &raw)) {
    return;
  }
  Use(offset, g_.cluster_size, Owner::kL2, multiplicity);
  const auto l1_index = l2_first_index_.find(offset);
  for (uint64_t i = 0; i < g_.l2_entries; ++i) {
    const uint8_t* p = raw.data() + i * g_.l2_entry_bytes;
    const uint64_t entry = LoadBe64(p);
    const uint64_t bitmap = g_.extended_l2 ? LoadBe64(p + 8) : 0;
    if (entry == 0 && bitmap == 0) continue;
    std::optional<uint64_t> guest;
    if (l1_index != l2_first_index_.end()) {
      guest = (l1_index->second * g_.l2_entries + i) << g_.cluster_bits;
    }
    CheckDataEntry(entry, bitmap, offset + i * g_.l2_entry_bytes, multiplicity,
                   active, guest);
  }
}

void Checker::CheckSnapshots() {
  if (h_.nb_snapshots == 0) return;
  uint64_t table_end = h_.snapshots_offset;
  std::map<uint64_t, std::map<uint32_t, uint64_t>> l1s;
  for (const Snapshot& s : img_.snapshots()) {
    table_end =
        std::max(table_end, s.entry_offset + kSnapshotFixedSize +
                                s.extra.size() + s.id.size() + s.name.size());
    // SPEC(Q2.SNAP.extra_v3)
    if (h_.version >= 3 &&
        s.extra.size() < SnapshotExtraField::kDiskSize.end()) {
      Corrupt("Q2.SNAP.extra_v3",
              s.entry_offset + SnapshotField::kExtraDataSize.offset,
              "snapshot '" + s.name + "' has only " +
                  std::to_string(s.extra.size()) + " bytes of extra data");
    }
    // SPEC(Q2.SNAP.l1_aligned)
    if (s.l1_table_offset % g_.cluster_size != 0) {
      Corrupt("Q2.SNAP.l1_aligned", s.entry_offset,
              "snapshot '" + s.name + "' L1 table is not cluster aligned");
      continue;
    }
    if (uint64_t{s.l1_size} * 8 > kMaxSnapshotL1Bytes) {
      Corrupt("QX.LIMIT.snapshot_l1_size",
              s.entry_offset + SnapshotField::kL1Size.offset,
              "snapshot '" + s.name + "' L1 table exceeds 32 MiB");
      continue;
    }
    l1s[s.l1_table_offset][s.l1_size] += 1;
  }
  Use(h_.snapshots_offset, table_end - h_.snapshots_offset,
      Owner::kSnapshotTable);
  for (const auto& [offset, sizes] : l1s) CheckL1Table(offset, sizes, false);
}

void Checker::CheckBitmaps() {
  if (!img_.extensions().bitmaps || img_.bitmaps().empty()) return;
  const BitmapsExtension& b = *img_.extensions().bitmaps;
  Use(b.directory_offset, b.directory_size, Owner::kBitmapDirectory);
  // SPEC(QX.LIMIT.check_tables_once): bitmaps naming one table (a hostile
  // directory can repeat it 65535 times) have it read and walked once, its
  // clusters counted once per bitmap.
  std::map<std::pair<uint64_t, uint32_t>, uint64_t> tables;
  for (const BitmapEntry& e : img_.bitmaps()) {
    ++tables[{e.table_offset, e.table_size}];
  }
  for (const auto& entry_count : tables) {
    // Plain names: a lambda may not capture a structured binding (C++17).
    const uint64_t table_offset = entry_count.first.first;
    const uint32_t table_size = entry_count.first.second;
    const uint64_t count = entry_count.second;
    std::vector<uint8_t> raw;
    const uint64_t bytes = uint64_t{table_size} * 8;
    if (!ReadTable(table_offset, bytes, "Q2.MAP.host_in_file", "a bitmap table",
                   &raw)) {
      continue;
    }
    // Bitmap tables and data are never shared: a repeat is an overlap
    // (reported once), its references counted all the same.
    auto use_all = [&](uint64_t off, uint64_t len, Owner owner) {
      Use(off, len, owner);
      if (count > 1) Use(off, len, owner, count - 1);
    };
    use_all(table_offset, bytes, Owner::kBitmapTable);
    for (uint32_t i = 0; i < table_size; ++i) {
      const uint64_t entry = LoadBe64(raw.data() + 8 * i);
      const uint64_t at = table_offset + 8 * uint64_t{i};
      // SPEC(Q2.BM.table_entry)
      const bool has_offset = (entry & 0x00fffffffffffe00ull) != 0;
      if ((entry & 0xff000000000001feull) || (has_offset && (entry & 1))) {
        Corrupt("Q2.BM.table_entry", at,
                "bitmap table entry has reserved bits set");
      }
      const uint64_t off = entry & 0x00fffffffffffe00ull;
      if (off == 0) continue;
      if (off % g_.cluster_size != 0 || off >= file_.Size()) {
        Corrupt("Q2.BM.table_entry", at,
                "bitmap data cluster is unaligned or past the end of file");
        continue;
      }
      use_all(off, g_.cluster_size, Owner::kBitmapData);
    }
  }
}

void Checker::CheckKeyVerification() {
  if (h_.crypt_method == CryptMethod::kAes) {
    // SPEC(QX.ENC.aes.no_key_check): nothing in the image confirms a key, so
    // a clean check never vouches for the passphrase.
    Add(Severity::kWarning, "QX.ENC.aes.no_key_check",
        HeaderField::kCryptMethod.offset,
        "legacy AES has no key check: no passphrase can be verified, and a "
        "wrong one reads as garbage");
  }
  if (!img_.luks()) return;
  bool any_enabled = false;
  for (const LuksKeySlot& k : img_.luks()->slots) any_enabled |= k.enabled();
  if (!any_enabled) {
    // SPEC(QX.LUKS.no_active_slot)
    Add(Severity::kWarning, "QX.LUKS.no_active_slot",
        img_.extensions().fde->offset + kLuksSlotsStart,
        "no LUKS key slot is active: no passphrase can unlock the data");
  }
}

void Checker::CheckLuks() {
  if (!img_.extensions().fde) return;
  const FdePointer& f = *img_.extensions().fde;
  // SPEC(Q2.FDE.allocated_clusters): the LUKS area is refcounted.
  Use(f.offset, f.length, Owner::kLuks);
  // SPEC(Q2.FDE.payload_offset_valid)
  if (img_.luks() && uint64_t{img_.luks()->payload_offset} * 512 > f.length) {
    Add(Severity::kWarning, "Q2.FDE.payload_offset_valid",
        f.offset + LuksField::kPayloadOffset.offset,
        "the LUKS payload offset lies past the FDE length (QEMU writes the "
        "whole area)");
  }
}

void Checker::CheckRefcounts() {
  const uint64_t table_bytes =
      uint64_t{h_.refcount_table_clusters} * g_.cluster_size;
  std::vector<uint8_t> table;
  if (!ReadTable(h_.refcount_table_offset, table_bytes, "Q2.MAP.host_in_file",
                 "the refcount table", &table)) {
    return;
  }
  Use(h_.refcount_table_offset, table_bytes, Owner::kRefcountTable);
  const uint64_t per_block = (g_.cluster_size * 8) >> h_.refcount_order;
  std::vector<uint64_t> stored(usage_->size(), 0);
  // Entries that name a block inside the file, by index.
  std::vector<std::pair<uint64_t, uint64_t>> named;  // (index, offset)
  for (uint64_t i = 0; i < table_bytes / 8; ++i) {
    const uint64_t at = h_.refcount_table_offset + 8 * i;
    const uint64_t e = LoadBe64(table.data() + 8 * i);
    if (e == 0) continue;
    // SPEC(Q2.RC.table_entry.aligned): reserved bits are reported and then
    // masked, as QEMU does; an unaligned block cannot be read.
    const uint64_t off = e & ~uint64_t{0x1ff};
    if ((e & 0x1ff) != 0) {
      Corrupt("Q2.RC.table_entry.aligned", at,
              "refcount table entry " + std::to_string(i) +
                  " has reserved bits 0-8 set");
    }
    if (off % g_.cluster_size != 0) {
      Corrupt("Q2.RC.table_entry.aligned", at,
              "refcount table entry " + std::to_string(i) +
                  " points at an unaligned refcount block");
      continue;
    }
    if (off == 0) continue;
    named.push_back({i, off});
  }
  // SPEC(QX.LIMIT.check_tables_once): each block is read once by offset,
  // however many entries name it; each entry still counts as a reference
  // (a shared block is an overlap, reported per entry as before).
  std::map<uint64_t, std::vector<uint64_t>> by_offset;
  for (const auto& [i, off] : named) by_offset[off].push_back(i);
  std::set<uint64_t> unreadable;
  std::vector<uint8_t> block(g_.cluster_size);
  for (const auto& [off, indices] : by_offset) {
    if (off >= file_.Size() ||
        !file_.ReadAt(off, block.data(), block.size()).ok()) {
      unreadable.insert(off);
      continue;
    }
    for (uint64_t i : indices) {
      for (uint64_t j = 0; j < per_block; ++j) {
        const uint64_t cluster = i * per_block + j;
        if (cluster >= stored.size()) break;
        stored[cluster] = GetRefcount(block.data(), j, h_.refcount_order);
      }
    }
  }
  for (const auto& [i, off] : named) {
    if (unreadable.count(off) != 0) {
      Corrupt("Q2.MAP.host_in_file", h_.refcount_table_offset + 8 * i,
              "refcount block " + std::to_string(i) +
                  " exceeds the end of the file");
      report_->check_errors = true;
      continue;
    }
    Use(off, g_.cluster_size, Owner::kRefcountBlock);
  }
  // Blocks referenced past the tracked range cannot describe file clusters.
  for (uint64_t c = 0; c < usage_->size(); ++c) {
    const uint64_t refs = usage_->references(c);
    const uint64_t have = stored[c];
    const uint64_t at = c << g_.cluster_bits;
    // SPEC(Q2.RC.max_references)
    if (refs > refcount_max_) {
      Corrupt("Q2.RC.max_references", at,
              "cluster " + std::to_string(c) + " has " + std::to_string(refs) +
                  " references, more than " +
                  std::to_string(h_.refcount_bits()) + "-bit refcounts hold");
      continue;
    }
    // SPEC(Q2.RC.covers_references)
    if (have < refs) {
      Corrupt("Q2.RC.covers_references", at,
              "cluster " + std::to_string(c) + " (" +
                  OwnerName(usage_->owner(c)) + ") has refcount " +
                  std::to_string(have) + " but " + std::to_string(refs) +
                  " references");
    } else if (have > refs) {
      // SPEC(Q2.RC.no_leaks)
      Add(Severity::kLeak, "Q2.RC.no_leaks", at,
          "cluster " + std::to_string(c) + " has refcount " +
              std::to_string(have) + " but " + std::to_string(refs) +
              " references (leaked)");
      report_->leaks.push_back({c, have, refs});
    }
  }
  // Refcounts for clusters past the end of the file (a refcount block may
  // describe them) are leaks too.
  stored_ = std::move(stored);
}

void Checker::CheckCopiedFlags() {
  if (stored_.empty()) return;
  for (const CopiedCheck& c : copied_) {
    if (c.cluster >= stored_.size()) continue;
    const uint64_t rc = stored_[c.cluster];
    // SPEC(Q2.MAP.copied): COPIED exactly when the refcount is 1 (only
    // checkable when the refcount is itself right).
    if (usage_->references(c.cluster) != rc) continue;
    if (c.copied != (rc == 1)) {
      report_->copied_fixes.push_back({c.entry_at, rc == 1});
      // A COPIED bit on a shared cluster lets a writer overwrite data that
      // another view still reads: corruption. A missing bit on a cluster
      // with refcount 1 only costs an extra copy (it is what a crash in the
      // middle of taking a snapshot leaves): a warning.
      Add(c.copied ? Severity::kCorruption : Severity::kWarning,
          "Q2.MAP.copied", c.entry_at,
          std::string(c.is_l2_table ? "L1" : "L2") + " entry " +
              (c.copied ? "has" : "lacks") +
              " the COPIED bit but the refcount is " + std::to_string(rc));
    }
  }
}

std::unique_ptr<ClusterUsage> Checker::Run() {
  const uint64_t file_clusters = DivRoundUp(file_.Size(), g_.cluster_size);
  usage_ = std::make_unique<ClusterUsage>(g_.cluster_bits, file_clusters);
  refcount_max_ = h_.refcount_order >= 6
                      ? UINT64_MAX
                      : (uint64_t{1} << h_.refcount_bits()) - 1;
  report_->image_end_offset = file_.Size();
  report_->total_clusters = DivRoundUp(h_.size, g_.cluster_size);
  CheckHeader();
  CheckL1Table(h_.l1_table_offset, {{h_.l1_size, 1}}, true);
  CheckSnapshots();
  for (const auto& [offset, refs] : l2_refs_) {
    CheckL2Table(offset, refs, active_l2_.count(offset) > 0);
  }
  CheckBitmaps();
  CheckLuks();
  CheckKeyVerification();
  CheckRefcounts();
  CheckCopiedFlags();
  return std::move(usage_);
}

}  // namespace

Result<CheckResult> CheckImage(std::unique_ptr<ByteSource> file,
                               const CheckOptions& options) {
  CheckResult result;
  OpenOptions open;
  // Borrowed, so that the image can be opened a second time.
  auto img = Image::OpenSource(std::make_unique<BorrowedSource>(file.get()),
                               open, options.secret);
  if (!img.ok() && img.error().clause == "QX.LUKS.no_active_slot") {
    // No slot can be tried, so there is no passphrase to verify: check the
    // structure without it (CheckKeyVerification warns).
    img = Image::OpenSource(std::make_unique<BorrowedSource>(file.get()), open);
  }
  if (!img.ok()) {
    const Error& e = img.error();
    if (e.kind == ErrorKind::kIo) return e;
    // The image cannot even be opened: that is the one finding.
    result.report.check_errors = true;
    result.report.Add({e.kind == ErrorKind::kUnsupported
                           ? Severity::kWarning
                           : Severity::kCorruption,
                       e.clause, e.offset, e.message});
    if (e.kind == ErrorKind::kUnsupported) return e;
    return result;
  }
  const Image& image = **img;
  if (DivRoundUp(image.file().Size(), image.geometry().cluster_size) >
      kMaxCheckedClusters) {
    return Unsupported("QX.LIMIT.open_memory", std::nullopt,
                       "the file has too many clusters to check");
  }
  Checker checker(image, options, &result.report);
  result.usage = checker.Run();
  return result;
}

}  // namespace qcow2ref
