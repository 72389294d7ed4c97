// Crash safety of persistent bitmaps (QX.WRITE.bitmaps_kept): writes into a
// qemu-made image with an enabled bitmap (vectors y_bm_basic: b0 enabled,
// b1 disabled), a flush after each; power is cut in every flush interval
// with any subset of its writes landing and with torn writes
// (ExploreCrashes, crash_explore.h). After every cut
// the image checks without corruption (leaks allowed) and the enabled bitmap
// is either flagged in use (known inconsistent) or has the bit of every
// granule that any write begun before the cut touched: data that may have
// reached the disk is never missing from a bitmap that claims to be right.
#include <gtest/gtest.h>

#include <cstdio>

#include "reference/check/checker.h"
#include "reference/format/bitmap_directory.h"
#include "reference/image/image.h"
#include "reference/io/crash_store.h"
#include "reference/status/endian.h"
#include "reference/status/spec_cite.h"
#include "reference/writer/crash_explore.h"
#include "reference/writer/image_writer.h"
#include "reference/writer/writer_test_util.h"

namespace qcow2ref {
namespace {

// Bit k of bitmap `b` in `bytes`, read from its table by hand.
bool BitSet(const std::vector<uint8_t>& bytes, const BitmapEntry& b,
            uint64_t cluster_size, uint64_t k) {
  const uint64_t per_cluster = cluster_size * 8;
  const uint64_t j = k / per_cluster;
  const uint64_t e = LoadBe64(bytes.data() + b.table_offset + 8 * j);
  const uint64_t at = e & 0x00fffffffffffe00ull;
  if (at == 0) return (e & 1) != 0;
  const uint64_t bit = k % per_cluster;
  return (bytes[at + bit / 8] >> (bit % 8)) & 1;
}

struct Op {
  bool compressed;
  uint64_t offset;
  uint64_t length;
};

// Empty when the image at this cut keeps the promise for the writes in
// `started` (every write with at least one event before the cut).
std::string Judge(const std::vector<uint8_t>& bytes,
                  const std::vector<std::pair<uint64_t, uint64_t>>& started) {
  // Leaks are what a crash may leave; corruption never.
  const std::string problem =
      writer_test::CheckFindings(bytes, nullptr, /*allow_leaks=*/true);
  if (!problem.empty()) return problem;
  auto img =
      Image::OpenSource(std::make_unique<MemorySource>(bytes), OpenOptions());
  if (!img.ok()) return "open: " + img.error().ToString();
  for (const BitmapEntry& b : (*img)->bitmaps()) {
    if (b.name != "b0") continue;
    if (b.flags & kBitmapFlagInUse) return "";  // Known inconsistent.
    const uint64_t g = uint64_t{1} << b.granularity_bits;
    for (const auto& [off, len] : started) {
      for (uint64_t k = off / g; k <= (off + len - 1) / g; ++k) {
        if (!BitSet(bytes, b, (*img)->geometry().cluster_size, k)) {
          return "b0 misses granule " + std::to_string(k) +
                 " of a write that may have landed, and is not in use";
        }
      }
    }
    return "";
  }
  return "bitmap b0 is gone";
}

TEST(BitmapCrashTest, EnabledBitmapIsNeverStale) {
  QCOW2_SPEC("QX.WRITE.bitmaps_kept");
  const std::vector<uint8_t> initial =
      writer_test::ReadRunfile("vectors/images/bm/y_bm_basic.qcow2");
  ASSERT_GT(initial.size(), 65536u);
  auto store = std::make_unique<CrashStore>(initial);
  CrashStore* log = store.get();
  auto w = ImageWriter::Open(std::move(store), WriterOptions());
  ASSERT_TRUE(w.ok()) << w.error().ToString();
  const std::vector<Op> ops = {{false, 1048576 + 7, 100000},
                               {false, 3 << 20, 4096},
                               {true, 2 << 20, 2 * 65536},
                               {false, (4 << 20) - 512, 512}};
  std::vector<size_t> began_at;  // Event index where each op began.
  for (const Op& op : ops) {
    std::vector<uint8_t> data(op.length);
    for (size_t i = 0; i < data.size(); ++i) {
      data[i] = static_cast<uint8_t>(i % 7 + 1);
    }
    began_at.push_back(log->Mark());
    Status st = op.compressed
                    ? (*w)->WriteCompressed(op.offset, data.data(), op.length)
                    : (*w)->Write(op.offset, data.data(), op.length);
    ASSERT_TRUE(st.ok()) << st.error().ToString();
    ASSERT_TRUE((*w)->Flush().ok());
  }
  // Every op with an event before the crash's reach may have landed.
  auto judge = [&](const std::vector<uint8_t>& bytes,
                   const writer_test::CrashPoint& p) {
    std::vector<std::pair<uint64_t, uint64_t>> started;
    for (size_t i = 0; i < ops.size(); ++i) {
      if (began_at[i] < p.reach()) {
        started.push_back({ops[i].offset, ops[i].length});
      }
    }
    return Judge(bytes, started);
  };
  writer_test::CrashCoverage cov;
  EXPECT_EQ(
      writer_test::ExploreCrashes(*log, writer_test::CrashPlan(), judge, &cov),
      "");
  std::printf("coverage: %s\n", cov.ToString().c_str());
  RecordProperty("coverage", cov.ToString());
  EXPECT_GT(cov.intervals, 8u);
}

}  // namespace
}  // namespace qcow2ref
