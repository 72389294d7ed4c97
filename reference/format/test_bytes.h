// Test helper: build big-endian byte images by hand, independently of the
// serializers under test.
#ifndef QCOW2REF_REFERENCE_FORMAT_TEST_BYTES_H_
#define QCOW2REF_REFERENCE_FORMAT_TEST_BYTES_H_

#include <cstdint>
#include <vector>

namespace qcow2ref::testing {

inline void PutBe(std::vector<uint8_t>& b, size_t at, uint64_t v, int bytes) {
  if (b.size() < at + bytes) b.resize(at + bytes, 0);
  for (int i = 0; i < bytes; ++i) {
    b[at + i] = static_cast<uint8_t>(v >> (8 * (bytes - 1 - i)));
  }
}

// A valid version 3 header (64 KiB clusters, 1 MiB disk, header_length 112)
// laid out by hand from the field table of the spec, padded to 64 KiB.
inline std::vector<uint8_t> V3HeaderBytes() {
  std::vector<uint8_t> b(65536, 0);
  PutBe(b, 0, 0x514649FB, 4);  // magic "QFI\xfb"
  PutBe(b, 4, 3, 4);           // version
  PutBe(b, 20, 16, 4);         // cluster_bits
  PutBe(b, 24, 1 << 20, 8);    // size
  PutBe(b, 36, 1, 4);          // l1_size
  PutBe(b, 40, 0x30000, 8);    // l1_table_offset
  PutBe(b, 48, 0x10000, 8);    // refcount_table_offset
  PutBe(b, 56, 1, 4);          // refcount_table_clusters
  PutBe(b, 96, 4, 4);          // refcount_order
  PutBe(b, 100, 112, 4);       // header_length
  return b;
}

}  // namespace qcow2ref::testing

#endif  // QCOW2REF_REFERENCE_FORMAT_TEST_BYTES_H_
