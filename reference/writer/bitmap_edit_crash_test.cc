// Crash safety of the bitmap commands (QX.WRITE.bitmap_edit_order): starting
// from a qemu-made image (vectors y_bm_basic: b0 enabled, b1 disabled), the
// bitmaps are removed down to none (the extension goes), added from none
// (the extension comes back), merged, cleared, disabled and removed again.
// Power is cut in every flush interval with any subset of its writes
// landing and with torn writes (ExploreCrashes, crash_explore.h: every
// subset of short intervals, sampled ones of long). After every cut the image
// checks without corruption (leaks allowed), opens, and holds exactly the
// bitmaps of the state before or after the command in progress: never a torn
// directory.
#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <set>

#include "reference/check/checker.h"
#include "reference/format/bitmap_directory.h"
#include "reference/image/image.h"
#include "reference/io/crash_store.h"
#include "reference/status/spec_cite.h"
#include "reference/writer/crash_explore.h"
#include "reference/writer/image_writer.h"
#include "reference/writer/writer_test_util.h"

namespace qcow2ref {
namespace {

using Names = std::set<std::string>;

// Empty when the image is sound and holds the bitmaps `a` or `b`.
std::string Judge(const std::vector<uint8_t>& bytes, const Names& a,
                  const Names& b) {
  // Leaks are what a crash may leave; corruption never.
  const std::string problem =
      writer_test::CheckFindings(bytes, nullptr, /*allow_leaks=*/true);
  if (!problem.empty()) return problem;
  auto img =
      Image::OpenSource(std::make_unique<MemorySource>(bytes), OpenOptions());
  if (!img.ok()) return "open: " + img.error().ToString();
  Names got;
  for (const BitmapEntry& e : (*img)->bitmaps()) got.insert(e.name);
  if (got != a && got != b) {
    std::string s;
    for (const std::string& n : got) s += n + " ";
    return "unexpected bitmaps: " + s;
  }
  return "";
}

TEST(BitmapEditCrashTest, EveryCutHoldsTheStateBeforeOrAfter) {
  QCOW2_SPEC("QX.WRITE.bitmap_edit_order");
  QCOW2_SPEC("QX.WRITE.bitmap_clear_merge");
  const std::vector<uint8_t> initial =
      writer_test::ReadRunfile("vectors/images/bm/y_bm_basic.qcow2");
  ASSERT_GT(initial.size(), 65536u);
  auto store = std::make_unique<CrashStore>(initial);
  CrashStore* log = store.get();
  auto w = ImageWriter::Open(std::move(store), WriterOptions());
  ASSERT_TRUE(w.ok()) << w.error().ToString();
  ImageWriter& iw = **w;
  std::vector<uint8_t> data(70000, 0x5a);
  const std::vector<std::pair<Names, std::function<Status()>>> ops = {
      {{"b0"}, [&] { return iw.BitmapRemove("b1"); }},
      {{}, [&] { return iw.BitmapRemove("b0"); }},
      {{"n"}, [&] { return iw.BitmapAdd("n", 0, false); }},
      {{"n"}, [&] { return iw.Write(100000, data.data(), data.size()); }},
      {{"n", "m"}, [&] { return iw.BitmapAdd("m", 512, true); }},
      {{"n", "m"}, [&] { return iw.BitmapMerge("n", "m"); }},
      {{"n", "m"}, [&] { return iw.BitmapClear("n"); }},
      {{"n", "m"}, [&] { return iw.BitmapSetEnabled("n", false); }},
      {{"m"}, [&] { return iw.BitmapRemove("n"); }},
      {{}, [&] { return iw.BitmapRemove("m"); }},
  };
  std::vector<Names> states = {{"b0", "b1"}};
  std::vector<size_t> began_at;
  for (const auto& [after, op] : ops) {
    began_at.push_back(log->Mark());
    Status st = op();
    ASSERT_TRUE(st.ok()) << st.error().ToString();
    ASSERT_TRUE(iw.Flush().ok());
    states.push_back(after);
  }
  // The states allowed once the events before `upto` have (partly) landed.
  auto allowed = [&](size_t upto) {
    size_t k = 0;
    while (k < began_at.size() && began_at[k] < upto) ++k;
    return std::make_pair(states[k == 0 ? 0 : k - 1], states[k]);
  };
  auto judge = [&](const std::vector<uint8_t>& bytes,
                   const writer_test::CrashPoint& p) {
    const auto ab = allowed(p.reach());
    return Judge(bytes, ab.first, ab.second);
  };
  // The vector's extension list (feature names, bitmaps) spans the first
  // two sectors: a torn rewrite of the header cluster is not judged
  // (CrashPlan::tear_header_cluster); every other write is torn.
  writer_test::CrashPlan plan;
  plan.tear_header_cluster = false;
  writer_test::CrashCoverage cov;
  EXPECT_EQ(writer_test::ExploreCrashes(*log, plan, judge, &cov), "");
  std::printf("coverage: %s\n", cov.ToString().c_str());
  RecordProperty("coverage", cov.ToString());
  EXPECT_GT(cov.intervals, 20u);
}

}  // namespace
}  // namespace qcow2ref
