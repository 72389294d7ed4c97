#include "fuzz/differential/classify.h"

#include <algorithm>
#include <cstring>
#include <memory>

#include "reference/format/endian.h"
#include "reference/format/header.h"
#include "reference/image/guest_map.h"
#include "reference/image/image.h"
#include "reference/io/byte_source.h"

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

std::string HeaderAsk(const std::vector<uint8_t>& image) {
  auto h = ParseHeader(image.data(), image.size());
  if (!h.ok()) return "other";
  if (h->incompatible_features & ~kIncompatDirty) return "incompatible_bits";
  if (h->compatible_features & ~kCompatLazyRefcounts) return "compatible_bits";
  return "other";
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
    v.key =
        p.opened ? "read:" + RangeKind(**img, p.failed_at) : HeaderAsk(image);
    v.detail =
        "we read; the peer: " + p.error +
        (p.opened ? " (at guest byte " + std::to_string(p.failed_at) + ")"
                  : "");
  } else if (p.media_size != guest_size) {
    v.outcome = Outcome::kBytesDiffer;
    v.key = guest_size % 512 ? "size:not_sector_multiple" : "size";
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
      v.outcome = Outcome::kBytesDiffer;
      v.key = RangeKind(**img, at);
      v.detail = "first difference at guest byte " + std::to_string(at) + " (" +
                 v.key + " in our map)";
    }
  }
  MarkKnown(v);
  return v;
}

}  // namespace qcow2ref::diff
