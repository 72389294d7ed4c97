// The qcow2 structure-aware mutator of qcow2ref's fuzzing kit. Self-contained:
// the C++ standard library only (see qcow2_mutate.h).
#include "qcow2_mutate.h"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <random>
#include <vector>

namespace qcow2_kit {
namespace {

constexpr uint32_t kMagic = 0x514649FB;
constexpr uint32_t kExtMagics[] = {0x00000000, 0xE2792ACA, 0x6803F857,
                                   0x23852875, 0x0537BE77, 0x44415441};

class Buffer {
 public:
  Buffer(uint8_t* d, size_t n) : d_(d), n_(n) {}
  size_t size() const { return n_; }
  bool Has(uint64_t at, uint64_t len) const {
    return at <= n_ && len <= n_ - at;
  }
  uint64_t Get(uint64_t at, int bytes) const {
    if (!Has(at, bytes)) return 0;
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | d_[at + i];
    return v;
  }
  void Put(uint64_t at, int bytes, uint64_t v) {
    if (!Has(at, bytes)) return;
    for (int i = 0; i < bytes; ++i) {
      d_[at + i] = static_cast<uint8_t>(v >> (8 * (bytes - 1 - i)));
    }
  }

 private:
  uint8_t* d_;
  size_t n_;
};

// The header fields we read leniently, before any validation.
struct Fields {
  uint32_t version = 0;
  uint32_t cluster_bits = 16;
  uint64_t cluster_size = 65536;
  uint64_t size = 0;
  uint32_t l1_size = 0;
  uint64_t l1_offset = 0;
  uint64_t rt_offset = 0;
  uint32_t rt_clusters = 0;
  uint32_t nb_snapshots = 0;
  uint64_t snap_offset = 0;
  uint64_t incompat = 0;
  uint32_t header_length = 72;
  uint64_t backing_offset = 0;
};

bool ReadFields(const Buffer& b, Fields* f) {
  if (b.size() < 72 || b.Get(0, 4) != kMagic) return false;
  f->version = static_cast<uint32_t>(b.Get(4, 4));
  f->backing_offset = b.Get(8, 8);
  f->cluster_bits = static_cast<uint32_t>(b.Get(20, 4));
  if (f->cluster_bits < 9 || f->cluster_bits > 21) f->cluster_bits = 16;
  f->cluster_size = uint64_t{1} << f->cluster_bits;
  f->size = b.Get(24, 8);
  f->l1_size = static_cast<uint32_t>(b.Get(36, 4));
  f->l1_offset = b.Get(40, 8);
  f->rt_offset = b.Get(48, 8);
  f->rt_clusters = static_cast<uint32_t>(b.Get(56, 4));
  f->nb_snapshots = static_cast<uint32_t>(b.Get(60, 4));
  f->snap_offset = b.Get(64, 8);
  if (f->version >= 3 && b.size() >= 104) {
    f->incompat = b.Get(72, 8);
    f->header_length = static_cast<uint32_t>(b.Get(100, 4));
  }
  return true;
}

class Mutator {
 public:
  Mutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed,
          qcow2_byte_mutator byte_mutator)
      : data_(data),
        size_(size),
        max_size_(max_size),
        rng_(seed),
        byte_mutator_(byte_mutator) {}

  size_t Run() {
    Buffer b(data_, size_);
    Fields f;
    if (!ReadFields(b, &f)) return 0;  // Not ours: the caller falls back.
    // Usually one structured change; sometimes two, sometimes a byte-level
    // change on top so the fuzzer keeps its generic power.
    const int rounds = 1 + (Pick(4) == 0);
    for (int i = 0; i < rounds; ++i) {
      Buffer cur(data_, size_);
      ReadFields(cur, &f);
      MutateOnce(cur, f);
    }
    if (Pick(8) == 0) size_ = ByteMutate();
    return std::min(size_, max_size_);
  }

 private:
  // A byte-level change: the caller's mutator (libFuzzer's), else one bit.
  size_t ByteMutate() {
    if (byte_mutator_ != nullptr) return byte_mutator_(data_, size_, max_size_);
    if (size_ > 0) data_[Pick(size_)] ^= static_cast<uint8_t>(1u << Pick(8));
    return size_;
  }

  uint64_t Pick(uint64_t n) { return n == 0 ? 0 : rng_() % n; }
  uint64_t Rand64() { return (uint64_t{rng_()} << 32) ^ rng_(); }

  // An interesting value for a field of `bytes` bytes currently `old`.
  uint64_t Interesting(uint64_t old, int bytes, const Fields& f) {
    const uint64_t all =
        bytes == 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * bytes)) - 1;
    switch (Pick(14)) {
      case 0:
        return 0;
      case 1:
        return 1;
      case 2:
        return all;
      case 3:
        return all >> 1;
      case 4:
        return (old + 1) & all;
      case 5:
        return (old - 1) & all;
      case 6:
        return (old << 1) & all;
      case 7:
        return old >> 1;
      case 8:
        return (uint64_t{1} << Pick(8 * bytes)) & all;
      case 9:
        return (f.cluster_size * Pick(size_ / f.cluster_size + 2)) & all;
      case 10:
        return size_ & all;
      case 11:
        return (old ^ (uint64_t{1} << Pick(8 * bytes))) & all;
      case 12:
        return (old + f.cluster_size) & all;
      default:
        return Rand64() & all;
    }
  }

  // A host offset: a cluster of the file, sometimes unaligned or past EOF.
  uint64_t HostOffset(const Fields& f) {
    const uint64_t clusters = size_ / f.cluster_size + 1;
    uint64_t off = f.cluster_size * Pick(clusters + 1);
    switch (Pick(8)) {
      case 0:
        return off + 512 * Pick(8);
      case 1:
        return off + Pick(f.cluster_size);
      case 2:
        return uint64_t{1} << (20 + Pick(36));
      default:
        return off;
    }
  }

  void MutateOnce(Buffer& b, const Fields& f) {
    switch (Pick(12)) {
      case 0:
      case 1:
        return HeaderField(b, f);
      case 2:
        return FeatureBits(b, f);
      case 3:
      case 4:
        return L1Entry(b, f);
      case 5:
      case 6:
        return L2Entry(b, f);
      case 7:
        return Refcount(b, f);
      case 8:
        return Extension(b, f);
      case 9:
        return SnapshotEntry(b, f);
      case 10:
        return Resize(f);
      default:
        return GeometryFields(b, f);
    }
  }

  void HeaderField(Buffer& b, const Fields& f) {
    struct Field {
      int at, bytes;
    };
    static constexpr Field kFields[] = {
        {4, 4},  {8, 8},  {16, 4}, {20, 4}, {24, 8},  {32, 4},
        {36, 4}, {40, 8}, {48, 8}, {56, 4}, {60, 4},  {64, 8},
        {72, 8}, {80, 8}, {88, 8}, {96, 4}, {100, 4}, {104, 1}};
    const Field& fl = kFields[Pick(std::size(kFields))];
    b.Put(fl.at, fl.bytes, Interesting(b.Get(fl.at, fl.bytes), fl.bytes, f));
  }

  void FeatureBits(Buffer& b, const Fields& f) {
    if (f.version < 3 || b.size() < 104) {
      b.Put(4, 4, 3);  // Make it a v3 header; the fields may be garbage.
      return;
    }
    const int at = 72 + 8 * static_cast<int>(Pick(3));
    const uint64_t bit = Pick(4) == 0 ? Pick(64) : Pick(6);
    b.Put(at, 8, b.Get(at, 8) ^ (uint64_t{1} << bit));
    if (at == 72 && bit == 3 && b.size() > 104) {  // Keep the pair coherent.
      b.Put(104, 1, (b.Get(72, 8) >> 3) & 1);
    }
  }

  void GeometryFields(Buffer& b, const Fields& f) {
    switch (Pick(5)) {
      case 0:
        b.Put(20, 4, 9 + Pick(13));
        break;  // cluster_bits
      case 1:
        b.Put(4, 4, 2 + Pick(2));
        break;   // version
      case 2: {  // header_length
        static constexpr uint32_t kLens[] = {72, 100, 104, 105, 108, 112, 120};
        b.Put(100, 4, kLens[Pick(std::size(kLens))]);
        break;
      }
      case 3:
        b.Put(32, 4, Pick(4));
        break;    // crypt_method
      default: {  // size vs l1_size
        const uint64_t per_l1 = f.cluster_size * (f.cluster_size / 8);
        b.Put(24, 8, per_l1 * (f.l1_size + Pick(3)) - Pick(2) * 512);
        break;
      }
    }
  }

  void MutateEntry(Buffer& b, uint64_t at, const Fields& f, bool l2) {
    uint64_t e = b.Get(at, 8);
    switch (Pick(l2 ? 10 : 6)) {
      case 0:
        e ^= uint64_t{1} << 63;
        break;  // COPIED
      case 1:
        e = (e & ~0x00fffffffffffe00ull) |
            (HostOffset(f) & 0x00fffffffffffe00ull);
        break;
      case 2:
        e = 0;
        break;
      case 3:
        e ^= uint64_t{1} << Pick(64);
        break;
      case 4:
        e |= 0x7f000000000001ffull & (uint64_t{1} << Pick(64));
        break;
      case 5:
        b.Put(at, 8, b.Get(at + 8 * (Pick(16) + 1), 8));
        return;
      case 6:
        e ^= 1;
        break;  // zero flag
      case 7:
        e ^= uint64_t{1} << 62;
        break;   // compressed
      case 8: {  // a compressed descriptor
        const uint32_t x = 62 - (f.cluster_bits - 8);
        const uint64_t sectors = Pick(uint64_t{1} << (f.cluster_bits - 8));
        e = (uint64_t{1} << 62) | (sectors << x) |
            ((HostOffset(f) + Pick(2) * 512 * Pick(4)) &
             ((uint64_t{1} << x) - 1));
        break;
      }
      default: {  // extended L2 bitmap
        if (f.incompat & (1u << 4)) {
          const uint64_t bm_at = at + 8;
          b.Put(bm_at, 8, b.Get(bm_at, 8) ^ (uint64_t{1} << Pick(64)));
          return;
        }
        e ^= uint64_t{1} << Pick(64);
      }
    }
    b.Put(at, 8, e);
  }

  void L1Entry(Buffer& b, const Fields& f) {
    if (f.l1_size == 0 || !b.Has(f.l1_offset, 8)) return HeaderField(b, f);
    const uint64_t n =
        std::min<uint64_t>(f.l1_size, (b.size() - f.l1_offset) / 8);
    MutateEntry(b, f.l1_offset + 8 * Pick(n), f, false);
  }

  void L2Entry(Buffer& b, const Fields& f) {
    // Pick an allocated L2 table from the L1 table.
    std::vector<uint64_t> tables;
    if (b.Has(f.l1_offset, 8)) {
      const uint64_t n =
          std::min<uint64_t>(f.l1_size, (b.size() - f.l1_offset) / 8);
      for (uint64_t i = 0; i < n && tables.size() < 64; ++i) {
        const uint64_t l2 =
            b.Get(f.l1_offset + 8 * i, 8) & 0x00fffffffffffe00ull;
        if (l2 != 0 && b.Has(l2, 8)) tables.push_back(l2);
      }
    }
    if (tables.empty()) return L1Entry(b, f);
    const uint64_t l2 = tables[Pick(tables.size())];
    const uint64_t entry_bytes = (f.incompat & (1u << 4)) ? 16 : 8;
    const uint64_t avail = std::min<uint64_t>(f.cluster_size, b.size() - l2);
    const uint64_t n = avail / entry_bytes;
    if (n == 0) return;
    // Prefer allocated entries: they lead to data.
    uint64_t idx = Pick(n);
    for (int tries = 0; tries < 8 && b.Get(l2 + idx * entry_bytes, 8) == 0;
         ++tries) {
      idx = Pick(n);
    }
    MutateEntry(b, l2 + idx * entry_bytes, f, true);
  }

  void Refcount(Buffer& b, const Fields& f) {
    if (!b.Has(f.rt_offset, 8)) return HeaderField(b, f);
    const uint64_t n =
        std::min<uint64_t>(uint64_t{f.rt_clusters} * f.cluster_size,
                           b.size() - f.rt_offset) /
        8;
    if (n == 0) return;
    const uint64_t at = f.rt_offset + 8 * Pick(std::min<uint64_t>(n, 64));
    const uint64_t block = b.Get(at, 8);
    if (Pick(2) == 0 && block != 0 && b.Has(block, 2)) {
      // A refcount block entry (16-bit by default).
      const uint64_t k =
          Pick(std::min<uint64_t>(f.cluster_size, b.size() - block) / 2);
      b.Put(block + 2 * k, 2, Interesting(b.Get(block + 2 * k, 2), 2, f));
      return;
    }
    b.Put(at, 8, Pick(2) ? HostOffset(f) : Interesting(block, 8, f));
  }

  void Extension(Buffer& b, const Fields& f) {
    // Walk the list as the reader does, collecting extension offsets.
    uint64_t off = f.version >= 3 ? f.header_length : 72;
    const uint64_t end = std::min<uint64_t>(
        b.size(), f.backing_offset != 0 ? f.backing_offset : f.cluster_size);
    std::vector<uint64_t> exts;
    while (off + 8 <= end && exts.size() < 32) {
      exts.push_back(off);
      const uint32_t type = static_cast<uint32_t>(b.Get(off, 4));
      if (type == 0) break;
      off += 8 + ((b.Get(off + 4, 4) + 7) & ~uint64_t{7});
    }
    if (exts.empty()) return HeaderField(b, f);
    const uint64_t at = exts[Pick(exts.size())];
    switch (Pick(6)) {
      case 0:
      case 1:
        b.Put(at, 4, kExtMagics[Pick(std::size(kExtMagics))]);
        break;
      case 2:
        b.Put(at + 4, 4, Interesting(b.Get(at + 4, 4), 4, f));
        break;
      case 3: {  // Length just right for a known type.
        static constexpr uint32_t kLens[] = {0, 8, 16, 24, 48, 96, 5};
        b.Put(at + 4, 4, kLens[Pick(std::size(kLens))]);
        break;
      }
      case 4: {  // A field inside the data (bitmaps, FDE pointer, names).
        const uint64_t len = b.Get(at + 4, 4);
        if (len >= 8) {
          const uint64_t k = at + 8 + 8 * Pick(len / 8);
          b.Put(k, 8, Pick(2) ? HostOffset(f) : Interesting(b.Get(k, 8), 8, f));
        }
        break;
      }
      default:  // Duplicate the previous extension header.
        if (at >= 8 && b.Has(at, 8)) b.Put(at, 8, b.Get(exts[0], 8));
    }
  }

  void SnapshotEntry(Buffer& b, const Fields& f) {
    if (f.nb_snapshots == 0 || !b.Has(f.snap_offset, 40)) {
      if (Pick(2) == 0) b.Put(60, 4, f.nb_snapshots + 1);
      return HeaderField(b, f);
    }
    std::vector<uint64_t> entries;
    uint64_t off = f.snap_offset;
    for (uint32_t i = 0; i < f.nb_snapshots && b.Has(off, 40) && i < 64; ++i) {
      entries.push_back(off);
      const uint64_t extra = b.Get(off + 36, 4);
      off += (40 + extra + b.Get(off + 12, 2) + b.Get(off + 14, 2) + 7) &
             ~uint64_t{7};
    }
    const uint64_t e = entries[Pick(entries.size())];
    const uint64_t extra = b.Get(e + 36, 4);
    switch (Pick(9)) {
      case 0:
        b.Put(e, 8, Pick(2) ? HostOffset(f) : Interesting(b.Get(e, 8), 8, f));
        break;
      case 1:
        b.Put(e + 8, 4, Interesting(b.Get(e + 8, 4), 4, f));
        break;
      case 2:
        b.Put(e + 12, 2, Interesting(b.Get(e + 12, 2), 2, f));
        break;
      case 3:
        b.Put(e + 14, 2, Interesting(b.Get(e + 14, 2), 2, f));
        break;
      case 4:
        b.Put(e + 32, 4, Interesting(b.Get(e + 32, 4), 4, f));
        break;
      case 5:
        b.Put(e + 36, 4, Pick(2) ? 8 * Pick(5) : Interesting(extra, 4, f));
        break;
      case 6:  // disk_size in the extra data: the snapshot's virtual size.
        if (extra >= 16) {
          static constexpr uint64_t kSizes[] = {
              0, 512, 1ull << 30, 1ull << 40, 1ull << 62, ~0ull << 9, ~0ull};
          b.Put(e + 48, 8,
                Pick(2) ? kSizes[Pick(std::size(kSizes))]
                        : Interesting(b.Get(e + 48, 8), 8, f));
        }
        break;
      case 7:
        b.Put(60, 4, Interesting(f.nb_snapshots, 4, f));
        break;
      default:  // Point the snapshot at the active L1 table.
        b.Put(e, 8, f.l1_offset);
        b.Put(e + 8, 4, f.l1_size);
    }
  }

  void Resize(const Fields& f) {
    const uint64_t cs = f.cluster_size;
    switch (Pick(3)) {
      case 0: {  // Truncate at a cluster boundary (or one sector after).
        size_t n =
            std::max<uint64_t>(72, cs * Pick(size_ / cs + 1) + 512 * Pick(2));
        n = std::min(n, max_size_);
        if (n > size_) std::memset(data_ + size_, 0, n - size_);
        size_ = n;
        break;
      }
      case 1: {  // Grow by zeros up to a cluster.
        const size_t n = std::min<size_t>(max_size_, size_ + Pick(cs) + 1);
        std::memset(data_ + size_, 0, n - size_);
        size_ = n;
        break;
      }
      default: {  // Copy one cluster over another.
        const uint64_t clusters = size_ / cs;
        if (clusters < 2) return;
        const uint64_t from = cs * Pick(clusters),
                       to = cs * (1 + Pick(clusters - 1));
        if (from != to) std::memmove(data_ + to, data_ + from, cs);
      }
    }
  }

  uint8_t* data_;
  size_t size_;
  size_t max_size_;
  std::minstd_rand rng_;
  qcow2_byte_mutator byte_mutator_;
};

}  // namespace
}  // namespace qcow2_kit

extern "C" int qcow2_has_header(const uint8_t* data, size_t size) {
  qcow2_kit::Fields f;
  return qcow2_kit::ReadFields(
      qcow2_kit::Buffer(const_cast<uint8_t*>(data), size), &f);
}

extern "C" size_t qcow2_mutate_with(uint8_t* data, size_t size, size_t max_size,
                                    unsigned int seed,
                                    qcow2_byte_mutator byte_mutator) {
  if (size > max_size) size = max_size;
  return qcow2_kit::Mutator(data, size, max_size, seed, byte_mutator).Run();
}

extern "C" size_t qcow2_mutate(uint8_t* data, size_t size, size_t max_size,
                               unsigned int seed) {
  return qcow2_mutate_with(data, size, max_size, seed, nullptr);
}
