// LUKS1 header validation on hand-built headers, and a full unlock of a key
// slot built in memory.
#include <gtest/gtest.h>

#include <cstring>

#include "reference/crypto/af_splitter.h"
#include "reference/crypto/hashes.h"
#include "reference/crypto/legacy_aes.h"
#include "reference/crypto/luks_header.h"
#include "reference/crypto/luks_unlock.h"
#include "reference/format/test_bytes.h"
#include "reference/io/byte_source.h"
#include "reference/status/spec_cite.h"

namespace qcow2ref {
namespace {

using testing::PutBe;

constexpr uint64_t kAreaLength = 1032 * 512;  // aes-128: payload 1032.

// A header as QEMU lays out aes-128-cbc-essiv:sha256 (spec-facts 11.3):
// key-bytes 16, slots at 8 + 128 * k, payload offset 1032, slot 0 enabled.
std::vector<uint8_t> Header() {
  std::vector<uint8_t> b(592, 0);
  const uint8_t magic[6] = {'L', 'U', 'K', 'S', 0xBA, 0xBE};
  std::memcpy(b.data(), magic, 6);
  PutBe(b, 6, 1, 2);
  std::memcpy(&b[8], "aes", 3);
  std::memcpy(&b[40], "cbc-essiv:sha256", 16);
  std::memcpy(&b[72], "sha256", 6);
  PutBe(b, 104, 1032, 4);
  PutBe(b, 108, 16, 4);
  PutBe(b, 164, 1000, 4);
  for (int k = 0; k < 8; ++k) {
    const size_t s = 208 + 48 * k;
    PutBe(b, s, k == 0 ? 0x00AC71F3 : 0x0000DEAD, 4);
    PutBe(b, s + 4, k == 0 ? 1000 : 0, 4);
    PutBe(b, s + 40, 8 + 128 * k, 4);
    PutBe(b, s + 44, 4000, 4);
  }
  return b;
}

std::string ClauseOf(const std::vector<uint8_t>& b,
                     uint64_t area = kAreaLength) {
  auto h = ParseLuksHeader(b.data(), b.size(), 0, area);
  return h.ok() ? "ok" : h.error().clause;
}

TEST(LuksHeaderTest, ParsesQemuLayout) {
  QCOW2_SPEC("L1.PHDR.layout");
  QCOW2_SPEC("L1.OPS.key_material_sectors");
  auto b = Header();
  auto h = ParseLuksHeader(b.data(), b.size(), 0, kAreaLength);
  ASSERT_TRUE(h.ok()) << h.error().ToString();
  EXPECT_EQ(h->cipher_mode, "cbc-essiv:sha256");
  EXPECT_EQ(h->suite.Name(), "aes-128-cbc-essiv:sha256");
  // 16 * 4000 = 64000 bytes = 125 sectors, rounded up to 128.
  EXPECT_EQ(h->slot_sectors(), 128u);
  EXPECT_TRUE(h->slots[0].enabled());
  EXPECT_FALSE(h->slots[1].enabled());
  EXPECT_EQ(SerializeLuksHeader(*h), b);
}

struct Fault {
  const char* name;
  size_t offset;
  uint64_t value;
  int bytes;
  const char* clause;
};

class LuksFaultTest : public ::testing::TestWithParam<Fault> {};

TEST_P(LuksFaultTest, Rejects) {
  const Fault& f = GetParam();
  QCOW2_SPEC(f.clause);
  auto b = Header();
  PutBe(b, f.offset, f.value, f.bytes);
  EXPECT_EQ(ClauseOf(b), f.clause) << f.name;
}

INSTANTIATE_TEST_SUITE_P(
    Faults, LuksFaultTest,
    ::testing::Values(
        Fault{"magic", 4, 0xBABF, 2, "L1.PHDR.magic"},
        Fault{"version2", 6, 2, 2, "L1.PHDR.version"},
        Fault{"payload0", 104, 0, 4, "L1.PHDR.payload_offset"},
        Fault{"payload7", 104, 7, 4, "L1.PHDR.payload_offset"},
        Fault{"keybytes0", 108, 0, 4, "L1.PHDR.key_bytes"},
        Fault{"keybytes_huge", 108, 0xffffffff, 4, "L1.PHDR.key_bytes"},
        Fault{"mkiter0", 164, 0, 4, "L1.PHDR.mk_digest_iter_nonzero"},
        Fault{"active_bad", 208, 0x12345678, 4, "L1.KS.active"},
        Fault{"iter0", 212, 0, 4, "L1.KS.iterations_nonzero"},
        Fault{"stripes_disabled", 208 + 48 + 44, 0, 4, "L1.KS.stripes_4000"},
        Fault{"stripes_3999", 252, 3999, 4, "L1.KS.stripes_4000"},
        Fault{"km_in_header", 248, 7, 4, "L1.KS.key_material_after_header"},
        Fault{"km_in_payload", 248 + 48 * 7, 1000, 4,
              "L1.KS.key_material_before_payload"},
        Fault{"km_overlap", 248 + 48, 100, 4, "L1.KS.no_overlap"}),
    [](const ::testing::TestParamInfo<Fault>& i) {
      return std::string(i.param.name);
    });

TEST(LuksHeaderTest, StringsAndNames) {
  QCOW2_SPEC("L1.PHDR.strings_nul");
  QCOW2_SPEC("L1.PHDR.hash_spec");
  auto b = Header();
  std::memset(&b[8], 'a', 32);
  EXPECT_EQ(ClauseOf(b), "L1.PHDR.strings_nul");
  b = Header();
  std::memcpy(&b[72], "sha3", 5);
  EXPECT_EQ(ClauseOf(b), "L1.PHDR.hash_spec");
}

TEST(LuksHeaderTest, FdeLengthMustCoverEveryKeySlot) {
  QCOW2_SPEC("Q2.FDE.length_covers_key_material");
  auto b = Header();
  // Slot 7 (disabled) material: sectors 904 .. 904 + 125 -> 1029 sectors.
  EXPECT_EQ(ClauseOf(b, 1029 * 512), "ok");
  EXPECT_EQ(ClauseOf(b, 1029 * 512 - 1), "Q2.FDE.length_covers_key_material");
  EXPECT_EQ(ClauseOf(b, 592 - 1), "Q2.FDE.length_covers_key_material");
}

// Builds a LUKS area in memory: slot 0 holds `master` for `pass`.
std::vector<uint8_t> BuildArea(const std::string& pass,
                               const SecretBytes& master) {
  auto b = Header();
  auto h = ParseLuksHeader(b.data(), b.size(), 0, kAreaLength);
  EXPECT_TRUE(h.ok());
  std::vector<uint8_t> area(kAreaLength, 0);
  std::memcpy(area.data(), b.data(), b.size());
  for (int i = 0; i < 32; ++i) {
    h->slots[0].salt[i] = static_cast<uint8_t>(i);
    h->mk_digest_salt[i] = static_cast<uint8_t>(100 + i);
  }
  auto digest = Pbkdf2("sha256", master.data(), master.size(),
                       h->mk_digest_salt.data(), 32, 1000, 20);
  std::memcpy(h->mk_digest.data(), digest->data(), 20);
  auto slot_key =
      Pbkdf2("sha256", reinterpret_cast<const uint8_t*>(pass.data()),
             pass.size(), h->slots[0].salt.data(), 32, 1000, 16);
  uint8_t c = 0;
  auto material =
      AfSplit("sha256", master.data(), 16, 4000, [&c](uint8_t* p, size_t n) {
        for (size_t i = 0; i < n; ++i) p[i] = c += 13;
      });
  auto cipher = SectorCipher::Create(h->suite, slot_key->data(), 16);
  std::vector<uint8_t> padded(125 * 512, 0);
  std::memcpy(padded.data(), material->data(), material->size());
  EXPECT_TRUE((*cipher)->Encrypt(padded.data(), padded.size(), 0).ok());
  std::memcpy(&area[8 * 512], padded.data(), padded.size());
  auto hdr = SerializeLuksHeader(*h);
  std::memcpy(area.data(), hdr.data(), hdr.size());
  return area;
}

TEST(LuksUnlockTest, RightAndWrongPassphrase) {
  QCOW2_SPEC("L1.PBKDF2.slot_key");
  QCOW2_SPEC("L1.OPS.key_material_cipher");
  QCOW2_SPEC("L1.OPS.iv_zero_start");
  QCOW2_SPEC("L1.MKD.verify");
  QCOW2_SPEC("L1.MKD.digest_size");
  QCOW2_SPEC("L1.MKD.try_active_slots");
  QCOW2_SPEC("L1.MKD.wrong_passphrase");
  QCOW2_SPEC("L1.KS.material_size");
  SecretBytes master(16);
  for (int i = 0; i < 16; ++i) master[i] = static_cast<uint8_t>(0xf0 ^ i);
  auto area = BuildArea("hunter2", master);
  MemorySource src(area);
  auto h = ParseLuksHeader(area.data(), 592, 0, kAreaLength);
  ASSERT_TRUE(h.ok());
  auto ok = UnlockLuks(*h, src, 0, SecretFromString("hunter2"));
  ASSERT_TRUE(ok.ok()) << ok.error().ToString();
  EXPECT_EQ(ok->slot, 0);
  EXPECT_EQ(std::memcmp(ok->master_key.data(), master.data(), 16), 0);
  auto bad = UnlockLuks(*h, src, 0, SecretFromString("hunter3"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().clause, "L1.MKD.wrong_passphrase");
  // The message never contains the passphrase.
  EXPECT_EQ(bad.error().ToString().find("hunter3"), std::string::npos);
}

TEST(LuksUnlockTest, IterationCap) {
  QCOW2_SPEC("QX.LIMIT.pbkdf2_iterations_cap");
  SecretBytes master(16);
  auto area = BuildArea("x", master);
  auto h = ParseLuksHeader(area.data(), 592, 0, kAreaLength);
  ASSERT_TRUE(h.ok());
  h->slots[0].iterations = kMaxPbkdf2Iterations + 1;
  MemorySource src(area);
  auto r = UnlockLuks(*h, src, 0, SecretFromString("x"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().clause, "QX.LIMIT.pbkdf2_iterations_cap");
}

TEST(LuksUnlockTest, OneBudgetPerOpenAtTheLimitAndOver) {
  QCOW2_SPEC("QX.LIMIT.pbkdf2_open_budget");
  SecretBytes master(16);
  auto area = BuildArea("hunter2", master);
  auto h = ParseLuksHeader(area.data(), 592, 0, kAreaLength);
  ASSERT_TRUE(h.ok());
  // Slots 1..7 copy slot 0: the worst case tries all eight, each followed by
  // the digest: 8 * (1000 + 1000) iterations.
  for (int i = 1; i < kLuksSlots; ++i) h->slots[i] = h->slots[0];
  EXPECT_EQ(LuksOpenCost(*h), 16000u);
  MemorySource src(area);
  auto at_limit = UnlockLuks(*h, src, 0, SecretFromString("hunter2"), 16000);
  ASSERT_TRUE(at_limit.ok()) << at_limit.error().ToString();
  EXPECT_EQ(at_limit->slot, 0);  // Ascending slot order: 0 first.
  // One over: refused before any PBKDF2, though slot 0 would unlock.
  auto over = UnlockLuks(*h, src, 4096, SecretFromString("hunter2"), 15999);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().clause, "QX.LIMIT.pbkdf2_open_budget");
  EXPECT_EQ(over.error().offset, std::optional<uint64_t>(4096 + 208));
  EXPECT_TRUE(CheckLuksOpenBudget(*h, 0, 16000).ok());
  EXPECT_FALSE(CheckLuksOpenBudget(*h, 0, 15999).ok());
  // Eight slots each at the per-call cap: over the per-open budget.
  for (auto& s : h->slots) s.iterations = kMaxPbkdf2Iterations;
  auto capped = UnlockLuks(*h, src, 0, SecretFromString("hunter2"));
  ASSERT_FALSE(capped.ok());
  EXPECT_EQ(capped.error().clause, "QX.LIMIT.pbkdf2_open_budget");
}

TEST(LuksUnlockTest, SlotsAreTriedInAscendingOrder) {
  QCOW2_SPEC("L1.MKD.try_active_slots");
  SecretBytes master(16);
  auto area = BuildArea("hunter2", master);
  auto h = ParseLuksHeader(area.data(), 592, 0, kAreaLength);
  ASSERT_TRUE(h.ok());
  h->slots[5] = h->slots[0];
  h->slots[3] = h->slots[0];
  h->slots[0].active = kLuksSlotDisabled;
  MemorySource src(area);
  auto r = UnlockLuks(*h, src, 0, SecretFromString("hunter2"));
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->slot, 3);
}

TEST(LuksUnlockTest, NoActiveSlotIsNotAWrongPassphrase) {
  QCOW2_SPEC("QX.LUKS.no_active_slot");
  SecretBytes master(16);
  auto area = BuildArea("hunter2", master);
  auto h = ParseLuksHeader(area.data(), 592, 0, kAreaLength);
  ASSERT_TRUE(h.ok());
  h->slots[0].active = kLuksSlotDisabled;
  MemorySource src(area);
  auto r = UnlockLuks(*h, src, 4096, SecretFromString("hunter2"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().clause, "QX.LUKS.no_active_slot");
  EXPECT_EQ(r.error().offset, std::optional<uint64_t>(4096 + 208));
  EXPECT_NE(r.error().message.find("no LUKS key slot is active"),
            std::string::npos);
}

TEST(LegacyAesTest, KeyIsFirstSixteenBytesZeroPadded) {
  QCOW2_SPEC("Q2.ENC.aes.key_128");
  QCOW2_SPEC("Q2.ENC.aes.cbc");
  // "password" and "password\0\0..." give the same cipher; a passphrase's
  // 17th byte does not matter.
  auto a = LegacyAesCipher(SecretFromString("password"));
  auto b = LegacyAesCipher(SecretFromString(std::string("password\0\0", 10)));
  auto c = LegacyAesCipher(SecretFromString("0123456789abcdefXYZ"));
  auto d = LegacyAesCipher(SecretFromString("0123456789abcdefQ"));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok() && d.ok());
  std::vector<uint8_t> x(512, 7), y(512, 7), z(512, 7), w(512, 7);
  ASSERT_TRUE((*a)->Encrypt(x.data(), 512, 2048).ok());
  ASSERT_TRUE((*b)->Encrypt(y.data(), 512, 2048).ok());
  ASSERT_TRUE((*c)->Encrypt(z.data(), 512, 2048).ok());
  ASSERT_TRUE((*d)->Encrypt(w.data(), 512, 2048).ok());
  EXPECT_EQ(x, y);
  EXPECT_EQ(z, w);
  EXPECT_NE(x, z);
}

}  // namespace
}  // namespace qcow2ref
