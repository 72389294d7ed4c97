// Differential comparison of qcow2ref (the oracle) with a peer reader on one
// image, and the classification of their disagreement. A disagreement whose
// class and key are in the known table (peer defects already reported in
// conformance/FINDINGS.md, or peer choices the spec allows) is suppressed, so
// a campaign stops only on new ones.
#ifndef QCOW2REF_FUZZ_DIFFERENTIAL_CLASSIFY_H_
#define QCOW2REF_FUZZ_DIFFERENTIAL_CLASSIFY_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "fuzz/differential/libqcow_peer.h"

namespace qcow2ref::diff {

enum class Outcome {
  kAgree,               // Both refuse, or both read the same bytes.
  kNotCompared,         // The image needs what the peer is not given here.
  kBytesDiffer,         // Both read; the bytes (or the size) differ.
  kPeerAcceptsInvalid,  // We refuse with a clause; the peer reads.
  kPeerRefusesValid,    // We read; the peer refuses.
};

const char* OutcomeName(Outcome o);

struct Verdict {
  Outcome outcome = Outcome::kAgree;
  // Suppression key: the clause we refuse with (kPeerAcceptsInvalid), the
  // kind of guest range that differs ("zero", "data", "compressed",
  // "unallocated", "size", "size:not_sector_multiple"), or what the header
  // asks of the peer ("incompatible_bits", "compatible_bits",
  // "open:l1_size_0", "open:l1_table_past_eof", or "open:" and the peer's
  // innermost error), or the kind of range its read failed on ("read:zero",
  // "read:data", ...). An L1 or L2 entry with reserved bits set in the
  // range makes it "reserved_bits" / "read:reserved_bits".
  std::string key;
  std::string detail;         // One line for a human.
  bool known = false;         // In the known table.
  std::string known_because;  // Its reason there.
};

// What is compared per image (bounded, so that a tiny file describing a
// huge disk costs what its metadata costs): the first 256 KiB of the active
// view, the first 4 KiB of each of the first 64 entries of our map, and the
// last 4 KiB of the disk. An image we refuse: the first 256 KiB and the
// last 4 KiB of the size its header states.
inline constexpr uint64_t kPrefixBytes = 256 << 10;
inline constexpr uint64_t kEntryBytes = 4 << 10;
inline constexpr size_t kMaxEntries = 64;

// Reads the windows of one image, as a peer does.
using PeerReader =
    std::function<PeerResult(const std::vector<Window>& windows)>;

// Reads `image` with qcow2ref (not following references, no secret) and
// with `peer` over the same windows, and classifies.
Verdict Compare(const std::vector<uint8_t>& image, const PeerReader& peer);

// Images the peer cannot be asked about here: encrypted (no passphrase is
// given), with a backing file or an external data file (no other file is
// given). Checked before the peer runs (libqcow hangs on some backing
// names: conformance/FINDINGS.md).
bool NeedsMoreThanTheImage(const std::vector<uint8_t>& image);

}  // namespace qcow2ref::diff

#endif  // QCOW2REF_FUZZ_DIFFERENTIAL_CLASSIFY_H_
