#include "fuzz/differential/classify.h"

#include <algorithm>
#include <cstring>
#include <memory>

#include "reference/format/header.h"
#include "reference/image/guest_map.h"
#include "reference/image/image.h"
#include "reference/io/byte_source.h"
#include "reference/status/endian.h"

namespace qcow2ref::diff {
namespace {

struct Known {
  Outcome outcome;
  const char* key;  // Exact, or a prefix when it ends with '.'.
  const char* because;
  const char* detail = "";  // When set, the verdict's detail must contain it.
};

// libqcow 20201213 (Debian 12). Each entry is a reported defect or a choice
// the spec leaves to a reader; conformance/FINDINGS.md ("libqcow") has the
// vectors that pin them.
constexpr Known kKnownLibqcow[] = {
    {Outcome::kPeerAcceptsInvalid, "Q2.BM.",
     "ignores the bitmaps extension (autoclear: a reader may)"},
    {Outcome::kPeerAcceptsInvalid, "Q2.BMX.",
     "ignores the bitmaps extension (autoclear: a reader may)"},
    {Outcome::kPeerAcceptsInvalid, "QX.MAP.beyond_eof",
     "ignores the bitmaps extension, so never reads its directory",
     "bitmap directory"},
    {Outcome::kPeerAcceptsInvalid, "QX.LIMIT.",
     "our implementation limit; a peer may choose others"},
    {Outcome::kPeerAcceptsInvalid, "Q2.SNAP.",
     "does not read snapshot tables (the suite skips snapshot vectors for "
     "it: no snapshots feature)"},
    {Outcome::kPeerAcceptsInvalid, "Q2.HDRV3.autoclear.raw_requires_xdf",
     "ignores autoclear bits; i_hdrv3_raw_without_xdf lets readers differ"},
    {Outcome::kPeerAcceptsInvalid, "Q2.HDR.version",
     "also reads QCOW version 1, a different format (not qcow2)", "version 1 "},
    {Outcome::kPeerAcceptsInvalid, "Q2.EXT.bounds",
     "does not check header extension lengths (FINDINGS: libqcow)"},
    {Outcome::kPeerAcceptsInvalid, "Q2.FDE.only_luks",
     "ignores the full disk encryption extension without LUKS"},
    {Outcome::kPeerAcceptsInvalid, "Q2.FNT.entry_size",
     "does not read the feature name table"},
    {Outcome::kPeerAcceptsInvalid, "Q2.HDR.crypt_method.known",
     "accepts unknown encryption methods"},
    {Outcome::kPeerAcceptsInvalid, "Q2.HDR.l1_table_offset.aligned",
     "does not check table alignment"},
    {Outcome::kPeerAcceptsInvalid, "Q2.HDR.refcount_table_clusters.nonzero",
     "does not read refcounts"},
    {Outcome::kPeerAcceptsInvalid, "Q2.HDR.refcount_table_offset.aligned",
     "does not read refcounts"},
    {Outcome::kPeerAcceptsInvalid, "Q2.HDR.snapshots_offset.aligned",
     "does not check the snapshot table offset"},
    {Outcome::kPeerAcceptsInvalid, "Q2.HDRV3.compression_type.",
     "ignores compression_type when incompatible bit 3 is clear (found by "
     "this fuzzer; n_hdrv3_compression_type_255_without_bit3)"},
    {Outcome::kPeerAcceptsInvalid, "Q2.CMP.exact_cluster",
     "does not check that a compressed stream fills its cluster, returns "
     "stale heap memory (found by this fuzzer; n_cmp_empty_deflate_block)"},
    {Outcome::kPeerAcceptsInvalid, "Q2.HDRV3.refcount_order.max",
     "does not read refcounts"},
    {Outcome::kPeerAcceptsInvalid, "Q2.MAP.l1_entry.aligned",
     "does not check L2 table alignment"},
    {Outcome::kPeerAcceptsInvalid, "Q2.MAP.l2_entry.aligned",
     "does not check data cluster alignment"},
    {Outcome::kPeerAcceptsInvalid, "Q2.MAP.zero_flag_v2",
     "ignores the zero flag, in v2 too"},
    {Outcome::kBytesDiffer, "zero", "ignores the zero flag of v3 L2 entries"},
    {Outcome::kBytesDiffer, "size:not_sector_multiple",
     "rounds a virtual size that is not a multiple of 512 (an i_ case)"},
    {Outcome::kPeerRefusesValid, "read:zero",
     "ignores the zero flag, so reads the host offset a zero entry keeps"},
    {Outcome::kPeerAcceptsInvalid, "Q2.EXT.at_most_once",
     "a repeated extension type: QEMU accepts it too (i_ext_* vectors)"},
    {Outcome::kPeerRefusesValid, "open:libqcow_file_header_read_data",
     "refuses a v3 header_length other than 104 and 112 (found by this "
     "fuzzer; y_hdrv3_header_length_120)",
     "unsupported file header size"},
    {Outcome::kPeerRefusesValid, "open:l1_size_0",
     "refuses an empty disk (l1_size 0) that qemu-img creates (found by this "
     "fuzzer; y_hdr_v3_size_0)"},
    {Outcome::kPeerRefusesValid, "open:l1_table_past_eof",
     "reads the whole L1 table at open, so refuses one whose unused tail "
     "runs past the end of the file; QEMU reads it, a reader may refuse "
     "(i_map_l1_table_past_eof)"},
    {Outcome::kPeerRefusesValid, "read:reserved_bits",
     "keeps reserved bits of L1/L2 entries in the offset and fails; a reader "
     "may refuse reserved bits (i_map_l1_reserved_bits, "
     "i_map_l2_reserved_bits)"},
    {Outcome::kBytesDiffer, "reserved_bits",
     "takes an entry with only reserved bits set as allocated at host "
     "offset 0 and returns the header cluster (found by this fuzzer; "
     "i_map_l2_reserved_low_bits)"},
    {Outcome::kPeerRefusesValid, "incompatible_bits",
     "refuses the corrupt bit and extended L2 / compression type bits"},
    {Outcome::kPeerRefusesValid, "compatible_bits",
     "refuses unknown compatible feature bits"},
};

bool Matches(const Known& k, const Verdict& v) {
  const Outcome o = v.outcome;
  const std::string& key = v.key;
  if (k.outcome != o) return false;
  if (v.detail.find(k.detail) == std::string::npos) return false;
  const size_t n = std::strlen(k.key);
  if (n > 0 && k.key[n - 1] == '.') return key.compare(0, n, k.key) == 0;
  return key == k.key;
}

void MarkKnown(Verdict& v) {
  for (const Known& k : kKnownLibqcow) {
    if (Matches(k, v)) {
      v.known = true;
      v.known_because = k.because;
      return;
    }
  }
}

// What the header asks of a peer that refused it at open.
std::string HeaderAsk(const std::vector<uint8_t>& image) {
  auto h = ParseHeader(image.data(), image.size());
  if (!h.ok()) return "other";
  if (h->incompatible_features & ~kIncompatDirty) return "incompatible_bits";
  if (h->compatible_features & ~kCompatLazyRefcounts) return "compatible_bits";
  if (h->l1_size == 0) return "l1_size_0";
  // The peer is given the file padded to whole clusters (libqcow_peer.cc).
  const uint64_t cluster = h->cluster_size();
  const uint64_t file = (image.size() + cluster - 1) / cluster * cluster;
  if (h->l1_table_offset + uint64_t{h->l1_size} * 8 > file) {
    return "l1_table_past_eof";
  }
  return "other";
}

uint64_t EntryAt(const std::vector<uint8_t>& image, uint64_t offset) {
  if (offset > image.size() || image.size() - offset < 8) return 0;
  return LoadBe64(image.data() + offset);
}

// Whether an active L1 entry, or a standard L2 entry, that maps a guest
// cluster in [start, start + length) has reserved bits set
// (Q2.MAP.l1_entry.reserved, Q2.MAP.l2_entry.reserved): bits 0-8 and 56-62
// of an L1 entry, bits 1-8 and 56-61 of an L2 entry that is not compressed.
// From the raw tables, as a peer sees them.
bool ReservedBitsIn(const std::vector<uint8_t>& image, uint64_t start,
                    uint64_t length) {
  constexpr uint64_t kL1Reserved = 0x7f000000000001ffULL;
  constexpr uint64_t kL2Reserved = 0x3f000000000001feULL;
  constexpr uint64_t kOffsetMask = 0x00fffffffffffe00ULL;
  constexpr uint64_t kCompressed = uint64_t{1} << 62;
  auto h = ParseHeader(image.data(), image.size());
  if (!h.ok() || length == 0) return false;
  const uint64_t cluster = h->cluster_size();
  const uint64_t entry = h->extended_l2() ? 16 : 8;
  const uint64_t per_l2 = cluster / entry;
  const uint64_t first = start / cluster;
  const uint64_t last = (start + length - 1) / cluster;
  for (uint64_t c = first; c <= last && c - first < 4096; ++c) {
    const uint64_t l1_index = c / per_l2;
    if (l1_index >= h->l1_size) return false;
    const uint64_t l1 = EntryAt(image, h->l1_table_offset + l1_index * 8);
    if (l1 & kL1Reserved) return true;
    const uint64_t l2_table = l1 & kOffsetMask;
    if (l2_table == 0) continue;
    const uint64_t l2 = EntryAt(image, l2_table + (c % per_l2) * entry);
    if (!(l2 & kCompressed) && (l2 & kL2Reserved)) return true;
  }
  return false;
}

// What the guest range at `offset` is in our map.
std::string RangeKind(const Image& img, uint64_t offset) {
  std::string kind = "unknown";
  (void)ForEachMapEntry(img, offset, 1, [&](const MapEntry& e) -> Status {
    kind = e.compressed          ? "compressed"
           : e.data              ? "data"
           : e.zero && e.present ? "zero"
                                 : "unallocated";
    return OkStatus();
  });
  return kind;
}

// The windows compared for an image we open, clipped to its size.
std::vector<Window> Windows(const Image& img) {
  const uint64_t size = img.guest_size();
  std::vector<Window> w;
  auto add = [&](uint64_t offset, uint64_t length) {
    if (offset >= size) return;
    w.push_back({offset, std::min(length, size - offset)});
  };
  add(0, kPrefixBytes);
  (void)ForEachMapEntry(
      img, 0, size,
      [&](const MapEntry& e) -> Status {
        if (e.start >= kPrefixBytes) add(e.start, kEntryBytes);
        return OkStatus();
      },
      kMaxEntries);
  if (size > kEntryBytes) add(size - kEntryBytes, kEntryBytes);
  return w;
}

}  // namespace

const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kAgree:
      return "agree";
    case Outcome::kNotCompared:
      return "not_compared";
    case Outcome::kBytesDiffer:
      return "bytes_differ";
    case Outcome::kPeerAcceptsInvalid:
      return "peer_accepts_invalid";
    case Outcome::kPeerRefusesValid:
      return "peer_refuses_valid";
  }
  return "?";
}

bool NeedsMoreThanTheImage(const std::vector<uint8_t>& image) {
  // From the raw fields, so that a header we refuse for another reason is
  // still judged by what it asks of the peer (offsets of the qcow2 header).
  if (image.size() < 40) return false;
  const uint64_t backing_file_offset = LoadBe64(image.data() + 8);
  const uint32_t crypt_method = LoadBe32(image.data() + 32);
  const uint32_t version = LoadBe32(image.data() + 4);
  const uint64_t incompatible =
      version >= 3 && image.size() >= 80 ? LoadBe64(image.data() + 72) : 0;
  return backing_file_offset != 0 || crypt_method != 0 ||
         (incompatible & kIncompatDataFile) != 0;
}

Verdict Compare(const std::vector<uint8_t>& image, const PeerReader& peer) {
  Verdict v;
  OpenOptions options;  // follow_references = false, no secret.
  auto img = Image::OpenSource(std::make_unique<MemorySource>(image), options);
  std::string refusal;
  std::vector<Window> windows = {{0, kPrefixBytes}};
  std::vector<uint8_t> ours;
  uint64_t guest_size = 0;
  if (!img.ok()) {
    refusal = img.error().clause;
    v.detail = img.error().ToString();
    // The peer reads the head and the tail of the disk the header states
    // (its raw size field: the header may be what we refused): a fault
    // that only shows at the end must be met there.
    const uint64_t size = image.size() >= 32 ? LoadBe64(image.data() + 24) : 0;
    if (size > kEntryBytes)
      windows.push_back({size - kEntryBytes, kEntryBytes});
  } else {
    guest_size = (*img)->guest_size();
    windows = Windows(**img);
    for (const Window& w : windows) {
      const size_t old = ours.size();
      ours.resize(old + w.length);
      Status st = (*img)->Read(w.offset, ours.data() + old, w.length);
      if (!st.ok()) {
        refusal = st.error().clause;
        v.detail = st.error().ToString();
        break;
      }
    }
  }
  const PeerResult p = peer(windows);
  const bool peer_reads = p.opened && p.read_ok;
  if (!refusal.empty()) {
    if (peer_reads) {
      v.outcome = Outcome::kPeerAcceptsInvalid;
      v.key = refusal;
      v.detail = "we refuse (" + v.detail + "); the peer reads";
    }
  } else if (!peer_reads) {
    v.outcome = Outcome::kPeerRefusesValid;
    // Refused at open: by what the header asks; refused while reading: by
    // what the range it failed on is in our map.
    // libqcow reads in pieces of 64 KiB (libqcow_peer.cc): any cluster of
    // the piece that failed may be the cause.
    v.key = !p.opened ? HeaderAsk(image)
            : ReservedBitsIn(image, p.failed_at, uint64_t{64} << 10)
                ? "read:reserved_bits"
                : "read:" + RangeKind(**img, p.failed_at);
    if (v.key == "l1_size_0" || v.key == "l1_table_past_eof") {
      v.key = "open:" + v.key;
    }
    if (v.key == "other")
      v.key = "open:" + p.error.substr(0, p.error.find(':'));
    v.detail =
        "we read; the peer: " + p.error +
        (p.opened ? " (at guest byte " + std::to_string(p.failed_at) + ")"
                  : "");
  } else if (p.media_size != guest_size) {
    v.outcome = Outcome::kBytesDiffer;
    // By the header's own size field: our guest size is already rounded
    // down to whole sectors, as QEMU rounds it (Q2.HDR.size.sector_multiple).
    const uint64_t header_size = LoadBe64(image.data() + 24);
    v.key = header_size % 512 ? "size:not_sector_multiple" : "size";
    v.detail = "size " + std::to_string(guest_size) + ", the peer's " +
               std::to_string(p.media_size);
  } else {
    // Same size, so the windows were clipped alike and the buffers line up.
    const auto diff =
        std::mismatch(ours.begin(), ours.end(), p.data.begin(), p.data.end());
    if (diff.first != ours.end()) {
      uint64_t pos = static_cast<uint64_t>(diff.first - ours.begin());
      uint64_t at = 0;
      for (const Window& w : windows) {
        if (pos < w.length) {
          at = w.offset + pos;
          break;
        }
        pos -= w.length;
      }
      const std::string kind = RangeKind(**img, at);
      v.outcome = Outcome::kBytesDiffer;
      v.key = ReservedBitsIn(image, at, 1) ? "reserved_bits" : kind;
      v.detail = "first difference at guest byte " + std::to_string(at) + " (" +
                 kind + " in our map" +
                 (v.key == kind ? "" : ", an entry with reserved bits") + ")";
    }
  }
  MarkKnown(v);
  return v;
}

}  // namespace qcow2ref::diff
