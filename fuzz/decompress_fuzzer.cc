// decompress_fuzzer: DecompressCluster over arbitrary bytes, for deflate and
// zstd and cluster sizes from 512 B to 2 MiB. The first input byte selects
// the compression type (bit 0) and the cluster size (bits 1..4: 9 + n % 13
// cluster bits); the rest is the compressed stream. The output buffer is
// exactly one cluster; a success must fill it (Q2.CMP.exact_cluster), and
// compressing the result must decompress back to it.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "reference/format/compression.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace qcow2ref;
  if (size < 1) return 0;
  const uint8_t type = data[0] & 1;
  const uint32_t cluster_bits = 9 + ((data[0] >> 1) & 0x0f) % 13;
  const size_t cluster = size_t{1} << cluster_bits;
  const uint8_t* in = data + 1;
  const size_t in_size = size - 1;
  // A type byte the library does not know must be refused, not guessed.
  if (data[0] >= 0xfe) {
    std::vector<uint8_t> out(512);
    FUZZ_CHECK(
        !DecompressCluster(data[0], in, in_size, out.data(), 512, 0).ok());
    return 0;
  }
  std::vector<uint8_t> out(cluster, 0xcc);
  Status st = DecompressCluster(type, in, in_size, out.data(), cluster, 0);
  if (!st.ok()) return 0;
  // Decompression is deterministic (no state leaks between calls).
  std::vector<uint8_t> again(cluster, 0x33);
  FUZZ_CHECK(
      DecompressCluster(type, in, in_size, again.data(), cluster, 0).ok());
  FUZZ_CHECK(std::memcmp(out.data(), again.data(), cluster) == 0);
  // Round trip through our compressor (QEMU's settings), for small clusters.
  if (cluster <= 65536) {
    std::vector<uint8_t> packed = CompressCluster(type, out.data(), cluster);
    if (!packed.empty()) {
      std::vector<uint8_t> back(cluster, 0x11);
      FUZZ_CHECK(DecompressCluster(type, packed.data(), packed.size(),
                                   back.data(), cluster, 0)
                     .ok());
      FUZZ_CHECK(std::memcmp(out.data(), back.data(), cluster) == 0);
    }
  }
  return 0;
}
