// Crash safety of the bitmap commands (QX.WRITE.bitmap_edit_order): starting
// from a qemu-made image (vectors y_bm_basic: b0 enabled, b1 disabled), the
// bitmaps are removed down to none (the extension goes), added from none
// (the extension comes back), merged, cleared, disabled and removed again.
// Power is cut after every write, and at each flush boundary with the whole
// next interval landing. After every cut the image checks without
// corruption (leaks allowed), opens, and holds exactly the bitmaps of the
// state before or after the command in progress: never a torn directory.
#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "reference/check/checker.h"
#include "reference/format/bitmap_directory.h"
#include "reference/image/image.h"
#include "reference/io/crash_store.h"
#include "reference/status/spec_cite.h"
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
  const auto& events = log->events();
  // The states allowed when the first `upto` events have happened.
  auto allowed = [&](size_t upto) {
    size_t k = 0;
    while (k < began_at.size() && began_at[k] < upto) ++k;
    return std::make_pair(states[k == 0 ? 0 : k - 1], states[k]);
  };
  int judged = 0;
  for (size_t cut = 0; cut <= events.size(); ++cut) {
    auto [a, b] = allowed(cut);
    const std::string problem = Judge(log->Replay(cut), a, b);
    ASSERT_TRUE(problem.empty()) << "cut " << cut << ": " << problem;
    ++judged;
    if (cut < events.size() && (cut == 0 || events[cut - 1].flush)) {
      std::vector<size_t> rest;
      for (size_t j = cut; j < events.size() && !events[j].flush; ++j) {
        rest.push_back(j);
      }
      auto [a2, b2] = allowed(cut + rest.size());
      const std::string p2 = Judge(log->Replay(cut, rest), a2, b2);
      ASSERT_TRUE(p2.empty()) << "cut " << cut << " (+interval): " << p2;
      ++judged;
    }
  }
  EXPECT_GT(judged, 40);
}

}  // namespace
}  // namespace qcow2ref
