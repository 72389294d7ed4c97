// The checker on hand-built images whose correct refcounts are derived by
// hand: layout (512-byte clusters) 0 header, 1 refcount table, 2 refcount
// block, 3 L1, 4 L2, 5.. data; 16-bit refcounts.
#include "reference/check/checker.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>

#include "reference/check/layout_svg.h"
#include "reference/check/repair.h"
#include "reference/format/limits.h"
#include "reference/format/test_bytes.h"
#include "reference/status/spec_cite.h"

namespace qcow2ref {
namespace {

using testing::PutBe;
constexpr uint64_t kC = 512;

struct Built {
  std::vector<uint8_t> bytes;
  void SetRefcount(uint64_t cluster, uint64_t v) {
    PutBe(bytes, 2 * kC + 2 * cluster, v, 2);
  }
  void SetL2(int i, uint64_t entry) { PutBe(bytes, 4 * kC + 8 * i, entry, 8); }
  uint64_t AddCluster(uint8_t fill) {
    const uint64_t off = bytes.size();
    bytes.resize(off + kC, fill);
    return off;
  }
};

// A clean image: 8 guest clusters, guest cluster 0 at host cluster 5.
Built Clean() {
  Built b;
  b.bytes.assign(5 * kC, 0);
  auto& v = b.bytes;
  PutBe(v, 0, 0x514649FB, 4);
  PutBe(v, 4, 3, 4);
  PutBe(v, 20, 9, 4);
  PutBe(v, 24, 8 * kC, 8);
  PutBe(v, 36, 1, 4);
  PutBe(v, 40, 3 * kC, 8);
  PutBe(v, 48, 1 * kC, 8);
  PutBe(v, 56, 1, 4);
  PutBe(v, 96, 4, 4);
  PutBe(v, 100, 104, 4);
  PutBe(v, 1 * kC, 2 * kC, 8);                          // reftable[0]
  PutBe(v, 3 * kC, 0x8000000000000000ull | 4 * kC, 8);  // L1[0], COPIED
  const uint64_t data = b.AddCluster(0xab);
  b.SetL2(0, 0x8000000000000000ull | data);
  for (uint64_t c = 0; c <= 5; ++c) b.SetRefcount(c, 1);
  return b;
}

CheckResult Check(const Built& b) {
  auto r = CheckImage(std::make_unique<MemorySource>(b.bytes), CheckOptions());
  EXPECT_TRUE(r.ok());
  return std::move(r).value();
}

std::vector<std::string> Clauses(const CheckResult& r) {
  std::vector<std::string> out;
  for (const Finding& f : r.report.findings) out.push_back(f.clause);
  return out;
}

bool Has(const CheckResult& r, const std::string& clause, Severity s) {
  return std::any_of(
      r.report.findings.begin(), r.report.findings.end(),
      [&](const Finding& f) { return f.clause == clause && f.severity == s; });
}

TEST(CheckerTest, CleanImageIsClean) {
  auto r = Check(Clean());
  EXPECT_TRUE(r.report.clean()) << ::testing::PrintToString(Clauses(r));
  EXPECT_EQ(r.report.allocated_clusters, 1u);
  ASSERT_NE(r.usage, nullptr);
  EXPECT_EQ(r.usage->owner(0), Owner::kHeader);
  EXPECT_EQ(r.usage->owner(2), Owner::kRefcountBlock);
  EXPECT_EQ(r.usage->owner(4), Owner::kL2);
  EXPECT_EQ(r.usage->owner(5), Owner::kData);
}

TEST(CheckerTest, RefcountTooLowIsCorruption) {
  QCOW2_SPEC("Q2.RC.covers_references");
  Built b = Clean();
  b.SetRefcount(5, 0);
  auto r = Check(b);
  EXPECT_TRUE(Has(r, "Q2.RC.covers_references", Severity::kCorruption));
}

TEST(CheckerTest, LeakIsReportedAndRepaired) {
  QCOW2_SPEC("Q2.RC.no_leaks");
  QCOW2_SPEC("QX.CHECK.repair_leaks_only");
  Built b = Clean();
  b.AddCluster(0);
  b.SetRefcount(6, 1);  // Cluster 6 is used by nothing.
  b.SetRefcount(5, 3);  // Data cluster with one reference.
  auto r = Check(b);
  EXPECT_EQ(r.report.Count(Severity::kLeak), 2u);
  EXPECT_EQ(r.report.Count(Severity::kCorruption), 0u);
  const std::string path =
      std::string(std::getenv("TEST_TMPDIR")) + "/leak.qcow2";
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(b.bytes.data()), b.bytes.size());
  auto fixed = RepairLeaks(path, r.report);
  ASSERT_TRUE(fixed.ok()) << fixed.error().ToString();
  EXPECT_EQ(*fixed, 2u);
  auto again =
      CheckImage(std::move(FileSource::Open(path)).value(), CheckOptions());
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->report.clean());
  // With a corruption present, repair is refused.
  b.SetRefcount(5, 0);
  auto bad = Check(b);
  EXPECT_FALSE(RepairLeaks(path, bad.report).ok());
}

TEST(CheckerTest, RepairOfAFileThatCannotBeOpenedSaysSo) {
  QCOW2_SPEC("QX.CHECK.repair_leaks_only");
  Built b = Clean();
  b.AddCluster(0);
  b.SetRefcount(6, 1);  // A leak, so that the repair has work to do.
  auto r = Check(b);
  ASSERT_EQ(r.report.leaks.size(), 1u);
  const std::string missing =
      std::string(std::getenv("TEST_TMPDIR")) + "/no-such-dir/leak.qcow2";
  auto fixed = RepairLeaks(missing, r.report);
  ASSERT_FALSE(fixed.ok());
  EXPECT_NE(fixed.error().message.find("cannot open " + missing),
            std::string::npos)
      << fixed.error().ToString();
}

TEST(CheckerTest, Overlaps) {
  QCOW2_SPEC("QX.CHECK.overlap");
  Built b = Clean();
  b.SetL2(1, 0x8000000000000000ull | 3 * kC);  // Data in the L1 cluster.
  auto r = Check(b);
  EXPECT_TRUE(Has(r, "QX.CHECK.overlap", Severity::kCorruption));
  EXPECT_TRUE(r.usage->overlapped(3));
}

// The boundary of QX.MAP.beyond_eof: a data cluster starting exactly at the
// end of the file is beyond it; one starting at the last cluster is not.
TEST(CheckerTest, DataClusterAtEndOfFileIsBeyondIt) {
  QCOW2_SPEC("QX.MAP.beyond_eof");
  Built b = Clean();  // 6 clusters: the file ends at 6 * kC.
  ASSERT_EQ(b.bytes.size(), 6 * kC);
  b.SetL2(1, 0x8000000000000000ull | 6 * kC);
  EXPECT_TRUE(Has(Check(b), "QX.MAP.beyond_eof", Severity::kCorruption));
  b = Clean();
  b.AddCluster(0xcd);
  b.SetRefcount(6, 1);
  b.SetL2(1, 0x8000000000000000ull | 6 * kC);  // Now the file's last cluster.
  auto r = Check(b);
  EXPECT_TRUE(r.report.clean()) << ::testing::PrintToString(Clauses(r));
}

TEST(CheckerTest, CopiedFlag) {
  QCOW2_SPEC("Q2.MAP.copied");
  Built b = Clean();
  b.SetL2(0, 5 * kC);  // Refcount 1 but no COPIED bit: harmless.
  EXPECT_TRUE(Has(Check(b), "Q2.MAP.copied", Severity::kWarning));
  // Cluster 5 shared by two entries (refcount 2, right) but still COPIED.
  b = Clean();
  b.SetL2(1, 0x8000000000000000ull | 5 * kC);
  b.SetRefcount(5, 2);
  EXPECT_TRUE(Has(Check(b), "Q2.MAP.copied", Severity::kCorruption));
}

TEST(CheckerTest, EntryBits) {
  QCOW2_SPEC("Q2.MAP.l1_entry.reserved");
  QCOW2_SPEC("Q2.MAP.l2_entry.reserved");
  QCOW2_SPEC("Q2.CMP.no_copied");
  Built b = Clean();
  PutBe(b.bytes, 3 * kC, 0x8100000000000000ull | 4 * kC, 8);
  EXPECT_TRUE(Has(Check(b), "Q2.MAP.l1_entry.reserved", Severity::kCorruption));
  b = Clean();
  b.SetL2(0, 0x8000000000000004ull | 5 * kC);
  EXPECT_TRUE(Has(Check(b), "Q2.MAP.l2_entry.reserved", Severity::kCorruption));
  b = Clean();
  // Compressed cluster with COPIED (x = 61 for 512-byte clusters).
  b.SetL2(1, (1ull << 63) | (1ull << 62) | 5 * kC);
  EXPECT_TRUE(Has(Check(b), "Q2.CMP.no_copied", Severity::kCorruption));
}

TEST(CheckerTest, NarrowRefcountOverflow) {
  QCOW2_SPEC("Q2.RC.max_references");
  // 1-bit refcounts (order 0): one refcount block covers 4096 clusters.
  Built b = Clean();
  PutBe(b.bytes, 96, 0, 4);
  std::fill(b.bytes.begin() + 2 * kC, b.bytes.begin() + 3 * kC, 0);
  b.bytes[2 * kC] = 0x3f;  // Clusters 0..5 have refcount 1.
  EXPECT_TRUE(Check(b).report.clean());
  b.SetL2(1, 5 * kC);  // A second reference to cluster 5: 2 > 1.
  EXPECT_TRUE(Has(Check(b), "Q2.RC.max_references", Severity::kCorruption));
}

TEST(CheckerTest, UnopenableImageIsOneFinding) {
  Built b = Clean();
  b.bytes[0] = 0;
  auto r = Check(b);
  EXPECT_TRUE(r.report.check_errors);
  ASSERT_EQ(r.report.findings.size(), 1u);
  EXPECT_EQ(r.report.findings[0].clause, "Q2.HDR.magic");
  EXPECT_EQ(r.usage, nullptr);
}

TEST(CheckerTest, HeaderFaultStopsTheCheck) {
  // 1 TiB with 512-byte clusters needs 2^31 / 64 = 33554432 L1 entries; the
  // image has 1: the open fails and the check reports only that.
  Built b = Clean();
  PutBe(b.bytes, 24, 1ull << 40, 8);
  auto r = CheckImage(std::make_unique<MemorySource>(b.bytes), CheckOptions());
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->report.check_errors);
  ASSERT_EQ(r->report.findings.size(), 1u);
  EXPECT_EQ(r->report.findings[0].clause, "Q2.HDR.l1_size.covers_size");
}

TEST(CheckerTest, LegacyAesKeyCannotBeVerified) {
  QCOW2_SPEC("QX.ENC.aes.no_key_check");
  Built b = Clean();
  PutBe(b.bytes, 32, 1, 4);  // crypt_method 1: legacy AES.
  auto r = Check(b);
  EXPECT_TRUE(Has(r, "QX.ENC.aes.no_key_check", Severity::kWarning));
  EXPECT_TRUE(r.report.clean());  // A warning, not a corruption.
  const SecretBytes wrong = SecretFromString("not-the-key");
  CheckOptions options;
  options.secret = &wrong;
  auto with_key = CheckImage(std::make_unique<MemorySource>(b.bytes), options);
  ASSERT_TRUE(with_key.ok());
  EXPECT_TRUE(Has(*with_key, "QX.ENC.aes.no_key_check", Severity::kWarning));
  EXPECT_TRUE(with_key->report.clean());
}

// y_luks_small_c4k (LUKS area at 0x4000) with key slot 0, its only enabled
// slot, disabled.
std::vector<uint8_t> LuksWithoutActiveSlot() {
  std::ifstream in("vectors/images/luks/y_luks_small_c4k.qcow2",
                   std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  EXPECT_GT(bytes.size(), 0x4000u + 592);
  if (bytes.size() > 0x4000 + 592) {
    EXPECT_EQ(bytes[0x4000 + 209], 0xAC);  // Enabled: 0x00AC71F3.
    PutBe(bytes, 0x4000 + 208, 0x0000DEAD, 4);
  }
  return bytes;
}

TEST(CheckerTest, LuksWithoutActiveSlotIsAWarning) {
  QCOW2_SPEC("QX.LUKS.no_active_slot");
  const std::vector<uint8_t> bytes = LuksWithoutActiveSlot();
  const SecretBytes any = SecretFromString("any passphrase");
  for (const SecretBytes* secret :
       {static_cast<const SecretBytes*>(nullptr), &any}) {
    CheckOptions options;
    options.secret = secret;
    auto r = CheckImage(std::make_unique<MemorySource>(bytes), options);
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(Has(*r, "QX.LUKS.no_active_slot", Severity::kWarning))
        << (secret ? "with" : "without") << " a secret";
    EXPECT_TRUE(r->report.clean());
    EXPECT_EQ(r->report.Count(Severity::kWarning), 1u);
  }
}

TEST(LayoutTest, SvgIsWellFormedAndMarksViolations) {
  QCOW2_SPEC("QX.CLI.svg_well_formed");
  Built b = Clean();
  b.SetL2(1, 0x8000000000000000ull | 3 * kC);
  auto r = Check(b);
  const std::string svg = RenderLayoutSvg(*r.usage, r.report, "t<&>");
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_NE(svg.find("t&lt;&amp;&gt;"), std::string::npos);
  // Bytes XML 1.0 forbids even as references are shown as text.
  const std::string hostile =
      RenderLayoutSvg(*r.usage, r.report, std::string("a\x01\xff\0b", 5));
  EXPECT_NE(hostile.find("a\\x01\\xff\\x00b"), std::string::npos);
  EXPECT_EQ(hostile.find('\x01'), std::string::npos);
  EXPECT_EQ(hostile.find('\xff'), std::string::npos);
  EXPECT_NE(svg.find("stroke=\"#d00000\""), std::string::npos);
  const std::string text = RenderLayoutText(*r.usage, r.report);
  EXPECT_NE(text.find("VIOLATION"), std::string::npos);
  EXPECT_NE(text.find("L2 table"), std::string::npos);
}

// The text layout of the hand-built image, written out from its layout
// (header, refcount table, refcount block, L1, L2, data; 512-byte clusters):
// every cluster up to the last is listed, a corruption marks the cluster its
// finding names, a warning marks nothing.
TEST(LayoutTest, TextListsEveryClusterAndMarksOnlyCorruptions) {
  QCOW2_SPEC("QX.CLI.svg_well_formed");
  const std::string layout =
      "0x0-0x1ff  clusters 0-0  header\n"
      "0x200-0x3ff  clusters 1-1  refcount table\n"
      "0x400-0x5ff  clusters 2-2  refcount block\n"
      "0x600-0x7ff  clusters 3-3  L1 table\n"
      "0x800-0x9ff  clusters 4-4  L2 table\n";
  auto clean = Check(Clean());
  EXPECT_EQ(RenderLayoutText(*clean.usage, clean.report),
            layout + "0xa00-0xbff  clusters 5-5  data\n");
  Built b = Clean();
  b.SetRefcount(5, 0);  // Q2.RC.covers_references at cluster 5.
  auto low = Check(b);
  ASSERT_TRUE(Has(low, "Q2.RC.covers_references", Severity::kCorruption));
  EXPECT_EQ(RenderLayoutText(*low.usage, low.report),
            layout + "0xa00-0xbff  clusters 5-5  data  VIOLATION\n");
  b = Clean();
  b.SetL2(0, 5 * kC);  // Q2.MAP.copied warning at the L2 entry (cluster 4).
  auto warned = Check(b);
  ASSERT_TRUE(Has(warned, "Q2.MAP.copied", Severity::kWarning));
  EXPECT_EQ(RenderLayoutText(*warned.usage, warned.report),
            layout + "0xa00-0xbff  clusters 5-5  data\n");
}

}  // namespace
TEST(CheckReportTest, FindingsAreBoundedPerClauseWithExactCounts) {
  QCOW2_SPEC("QX.LIMIT.check_findings");
  CheckReport r;
  for (uint64_t i = 0; i < kMaxFindingsPerClause; ++i) {
    r.Add({Severity::kCorruption, "A", i, "a"});
  }
  // At the limit: everything kept.
  EXPECT_EQ(r.findings.size(), kMaxFindingsPerClause);
  EXPECT_TRUE(r.omitted.empty());
  EXPECT_FALSE(r.Full("B"));
  EXPECT_TRUE(r.Full("A"));
  // One over: counted, not kept; another clause is kept.
  r.Add({Severity::kCorruption, "A", 0, "a"});
  r.Add({Severity::kWarning, "B", 0, "b"});
  EXPECT_EQ(r.findings.size(), kMaxFindingsPerClause + 1);
  EXPECT_EQ((r.omitted[{"A", Severity::kCorruption}]), 1u);
  EXPECT_EQ(r.Count(Severity::kCorruption), kMaxFindingsPerClause + 1);
  EXPECT_EQ(r.Count(Severity::kWarning), 1u);
  EXPECT_EQ(r.CountClause("A"), kMaxFindingsPerClause + 1);
  r.Omit("A", Severity::kCorruption);
  EXPECT_EQ(r.CountClause("A"), kMaxFindingsPerClause + 2);
}

}  // namespace qcow2ref
