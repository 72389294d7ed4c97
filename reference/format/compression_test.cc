#include "reference/format/compression.h"

#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include "reference/status/spec_cite.h"

namespace qcow2ref {
namespace {

std::vector<uint8_t> Pattern(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>((i / 7) * 13);
  return v;
}

// Raw deflate made directly with zlib (window bits given), not by our code.
std::vector<uint8_t> RawDeflate(const std::vector<uint8_t>& in, int wbits) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 9, Z_DEFLATED, -wbits, 8, Z_DEFAULT_STRATEGY),
            Z_OK);
  std::vector<uint8_t> out(in.size() + 1024);
  zs.next_in = const_cast<uint8_t*>(in.data());
  zs.avail_in = in.size();
  zs.next_out = out.data();
  zs.avail_out = out.size();
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(out.size() - zs.avail_out);
  deflateEnd(&zs);
  return out;
}

TEST(CompressionTest, InflatesRawDeflateOfAnyWindow) {
  QCOW2_SPEC("Q2.CMP.deflate");
  QCOW2_SPEC("Q2.CMP.deflate_window");  // QEMU writes 4 KiB windows; any works.
  const auto plain = Pattern(65536);
  for (int wbits : {12, 15}) {
    auto packed = RawDeflate(plain, wbits);
    packed.resize(packed.size() + 300, 0);  // Sector slack after the stream.
    std::vector<uint8_t> out(65536);
    ASSERT_TRUE(DecompressCluster(0, packed.data(), packed.size(), out.data(),
                                  out.size(), 0)
                    .ok());
    EXPECT_EQ(out, plain);
  }
}

TEST(CompressionTest, RejectsZlibWrapperAndShortStreams) {
  QCOW2_SPEC("Q2.CMP.exact_cluster");
  QCOW2_SPEC("Q2.CMP.deflate_naming");  // "zlib" means raw deflate.
  const auto plain = Pattern(65536);
  std::vector<uint8_t> wrapped(compressBound(plain.size()));
  uLongf n = wrapped.size();
  ASSERT_EQ(compress(wrapped.data(), &n, plain.data(), plain.size()), Z_OK);
  wrapped.resize(n);
  std::vector<uint8_t> out(65536);
  EXPECT_EQ(DecompressCluster(0, wrapped.data(), wrapped.size(), out.data(),
                              out.size(), 7)
                .error()
                .clause,
            "Q2.CMP.exact_cluster");
  // A stream of half a cluster does not fill the cluster.
  auto half = RawDeflate(Pattern(32768), 12);
  EXPECT_FALSE(
      DecompressCluster(0, half.data(), half.size(), out.data(), out.size(), 0)
          .ok());
  // Truncated input.
  auto full = RawDeflate(plain, 12);
  EXPECT_FALSE(DecompressCluster(0, full.data(), full.size() / 2, out.data(),
                                 out.size(), 0)
                   .ok());
}

TEST(CompressionTest, ZstdFramesWithoutPrefix) {
  QCOW2_SPEC("Q2.CMP.zstd");
  const auto plain = Pattern(65536);
  // Two frames of half a cluster each, made directly with libzstd.
  std::vector<uint8_t> packed;
  for (int part = 0; part < 2; ++part) {
    std::vector<uint8_t> f(ZSTD_compressBound(32768));
    size_t n = ZSTD_compress(f.data(), f.size(), plain.data() + part * 32768,
                             32768, 3);
    ASSERT_FALSE(ZSTD_isError(n));
    packed.insert(packed.end(), f.begin(), f.begin() + n);
  }
  std::vector<uint8_t> out(65536);
  ASSERT_TRUE(DecompressCluster(1, packed.data(), packed.size(), out.data(),
                                out.size(), 0)
                  .ok());
  EXPECT_EQ(out, plain);
  // Garbage is rejected.
  std::vector<uint8_t> junk(100, 0x5a);
  EXPECT_FALSE(
      DecompressCluster(1, junk.data(), junk.size(), out.data(), out.size(), 0)
          .ok());
  // A frame that holds more than a cluster is rejected (frame unfinished).
  auto big = Pattern(65536 * 2);
  std::vector<uint8_t> f(ZSTD_compressBound(big.size()));
  size_t n = ZSTD_compress(f.data(), f.size(), big.data(), big.size(), 3);
  EXPECT_FALSE(
      DecompressCluster(1, f.data(), n, out.data(), out.size(), 0).ok());
}

TEST(CompressionTest, CompressRoundTripAndIncompressible) {
  const auto plain = Pattern(65536);
  for (uint8_t type : {0, 1}) {
    auto packed = CompressCluster(type, plain.data(), plain.size());
    ASSERT_FALSE(packed.empty());
    std::vector<uint8_t> out(65536);
    ASSERT_TRUE(DecompressCluster(type, packed.data(), packed.size(),
                                  out.data(), out.size(), 0)
                    .ok());
    EXPECT_EQ(out, plain);
  }
  // Random bytes do not shrink: stored uncompressed (empty result).
  std::vector<uint8_t> noise(4096);
  uint32_t x = 12345;
  for (auto& b : noise) {
    x = x * 1103515245 + 12345;
    b = static_cast<uint8_t>(x >> 24);
  }
  EXPECT_TRUE(CompressCluster(0, noise.data(), noise.size()).empty());
}

}  // namespace
}  // namespace qcow2ref
