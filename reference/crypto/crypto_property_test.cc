// Property tests (RapidCheck) of the crypto layer: every supported cipher
// suite inverts, AF split/merge invert for every hash and key size, a key
// slot written in memory unlocks with its passphrase and never with another.
// The seed comes from RC_PARAMS (.bazelrc).
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "reference/crypto/af_splitter.h"
#include "reference/crypto/hashes.h"
#include "reference/crypto/luks_header.h"
#include "reference/crypto/luks_unlock.h"
#include "reference/crypto/sector_cipher.h"
#include "reference/io/byte_source.h"
#include "reference/status/checked_math.h"
#include "reference/status/spec_cite.h"

namespace qcow2ref {
namespace {

const std::vector<std::string>& Hashes() {
  static const auto* h = new std::vector<std::string>{
      "md5", "sha1", "sha224", "sha256", "sha384", "sha512", "ripemd160"};
  return *h;
}

// Every suite name ParseCipherSpec knows, as <family>-<bits>-<mode>-<ivgen>.
std::vector<std::string> AllSuiteNames() {
  std::vector<std::string> out;
  const std::vector<std::string> families = {
      "aes-128",     "aes-192",     "aes-256",     "serpent-128", "serpent-192",
      "serpent-256", "twofish-128", "twofish-192", "twofish-256", "cast5-128"};
  std::vector<std::string> ivgens = {"plain", "plain64"};
  for (const std::string& h : Hashes()) ivgens.push_back("essiv:" + h);
  for (const std::string& f : families) {
    for (const std::string mode : {"ecb", "cbc", "ctr", "xts"}) {
      if (mode == "xts" && f.rfind("cast5", 0) == 0) continue;
      for (const std::string& iv : ivgens)
        out.push_back(f + "-" + mode + "-" + iv);
    }
  }
  return out;
}

// The suites that parse and key a cipher (ESSIV needs a key as long as the
// hash digest that the family accepts: QX.LUKS.essiv_cipher).
struct Suite {
  std::string name;
  CipherSuite suite;
};
const std::vector<Suite>& Supported() {
  static const auto* s = [] {
    auto* out = new std::vector<Suite>;
    for (const std::string& name : AllSuiteNames()) {
      auto suite = ParseCipherSpec(name);
      if (!suite.ok()) {
        ADD_FAILURE() << name << ": " << suite.error().ToString();
        continue;
      }
      std::vector<uint8_t> key(suite->key_bytes, 0x42);
      if (!SectorCipher::Create(*suite, key.data(), key.size()).ok()) continue;
      out->push_back({name, *suite});
    }
    return out;
  }();
  return *s;
}

TEST(CipherSuites, EssivKeySizeRuleOnlyRefusesEssiv) {
  QCOW2_SPEC("L1.PHDR.cipher_support");
  QCOW2_SPEC("QX.LUKS.essiv_cipher");
  const auto names = AllSuiteNames();
  size_t refused = 0;
  for (const std::string& name : names) {
    auto suite = ParseCipherSpec(name);
    ASSERT_TRUE(suite.ok()) << name;
    EXPECT_EQ(suite->Name(), name);
    std::vector<uint8_t> key(suite->key_bytes, 0x42);
    auto c = SectorCipher::Create(*suite, key.data(), key.size());
    if (!c.ok()) {
      ++refused;
      EXPECT_EQ(c.error().clause, "QX.LUKS.essiv_cipher") << name;
      EXPECT_EQ(suite->ivgen, IvGen::kEssiv) << name;
    }
  }
  EXPECT_EQ(Supported().size() + refused, names.size());
  // Every family/mode pair keeps at least plain, plain64 and one ESSIV hash.
  EXPECT_GE(Supported().size(), 37u * 3);
}

// Bulk random bytes (AF stripes) from a generated seed: generating them
// element by element would dominate the run time.
std::vector<uint8_t> Noise(size_t n) {
  std::mt19937 rng(*rc::gen::arbitrary<uint32_t>());
  std::vector<uint8_t> out(n);
  for (uint8_t& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

rc::Gen<std::vector<uint8_t>> Bytes(size_t n) {
  return rc::gen::container<std::vector<uint8_t>>(
      n, rc::gen::arbitrary<uint8_t>());
}

RC_GTEST_PROP(CipherProperty, DecryptInvertsEncrypt, ()) {
  QCOW2_SPEC("L1.OPS.cbc_per_sector");
  QCOW2_SPEC("L1.OPS.iv_essiv");
  const Suite& s = *rc::gen::elementOf(Supported());
  RC_TAG(s.name);
  const std::vector<uint8_t> key = *Bytes(s.suite.key_bytes);
  const size_t sectors = *rc::gen::inRange<size_t>(1, 5);
  const uint64_t first = *rc::gen::arbitrary<uint64_t>();
  const std::vector<uint8_t> plain = *Bytes(sectors * kSectorSize);
  auto c = SectorCipher::Create(s.suite, key.data(), key.size());
  RC_ASSERT(c.ok());
  std::vector<uint8_t> data = plain;
  RC_ASSERT((*c)->Encrypt(data.data(), data.size(), first).ok());
  RC_ASSERT(data != plain);
  // Sectors are independent: one call equals one call per sector.
  std::vector<uint8_t> each = plain;
  for (size_t i = 0; i < sectors; ++i) {
    RC_ASSERT(
        (*c)->Encrypt(each.data() + i * kSectorSize, kSectorSize, first + i)
            .ok());
  }
  RC_ASSERT(each == data);
  RC_ASSERT((*c)->Decrypt(data.data(), data.size(), first).ok());
  RC_ASSERT(data == plain);
}

RC_GTEST_PROP(AfProperty, MergeInvertsSplit, ()) {
  QCOW2_SPEC("L1.AF.split");
  QCOW2_SPEC("L1.AF.merge");
  const std::string hash = *rc::gen::elementOf(Hashes());
  const size_t key_len =
      *rc::gen::oneOf(rc::gen::element(size_t{16}, size_t{24}, size_t{32},
                                       size_t{48}, size_t{64}),
                      rc::gen::inRange<size_t>(1, 129));
  const uint32_t stripes = *rc::gen::oneOf(rc::gen::just(kLuksStripes),
                                           rc::gen::inRange<uint32_t>(1, 64));
  const std::vector<uint8_t> key = *Bytes(key_len);
  const std::vector<uint8_t> noise = Noise(key_len * stripes);
  size_t used = 0;
  auto material =
      AfSplit(hash, key.data(), key_len, stripes, [&](uint8_t* p, size_t n) {
        std::memcpy(p, noise.data() + used, n);
        used += n;
      });
  RC_ASSERT(material.ok());
  RC_ASSERT(material->size() == key_len * stripes);
  auto merged = AfMerge(hash, material->data(), key_len, stripes);
  RC_ASSERT(merged.ok());
  RC_ASSERT(std::memcmp(merged->data(), key.data(), key_len) == 0);
  // Every stripe matters: flipping a bit changes the key. The diffusion
  // hashes the key in digest-sized blocks, each on its own, so a flip only
  // travels within its block: in a block shorter than 8 bytes (the tail of
  // a key that is not a multiple of the digest) the diffused bytes meet the
  // original ones again by chance over thousands of stripes (found by the
  // long run: a 41-byte key, sha1, a flip in its 1-byte tail block). Flips
  // land in blocks of at least 8 bytes; digest sizes from the hashes' specs.
  static const std::map<std::string, size_t> kDigestBytes = {
      {"md5", 16},    {"sha1", 20},   {"sha224", 28},   {"sha256", 32},
      {"sha384", 48}, {"sha512", 64}, {"ripemd160", 20}};
  const size_t digest = kDigestBytes.at(hash);
  const size_t full_blocks = key_len / digest * digest;
  const size_t tail = key_len - full_blocks;
  const size_t flippable = tail >= 8 ? key_len : full_blocks;
  if (flippable == 0) return;
  const size_t stripe = *rc::gen::inRange<uint32_t>(0, stripes);
  const size_t byte = *rc::gen::inRange<size_t>(0, flippable);
  SecretBytes broken = *material;
  broken[stripe * key_len + byte] ^= 0x01;
  auto wrong = AfMerge(hash, broken.data(), key_len, stripes);
  RC_ASSERT(wrong.ok());
  RC_ASSERT(std::memcmp(wrong->data(), key.data(), key_len) != 0);
}

// A LUKS1 area with the given enabled slots, written the way a LUKS writer
// does it (PBKDF2 slot key, AF split, encrypt), laid out as QEMU does.
struct Area {
  std::vector<uint8_t> bytes;
  SecretBytes master;
};

Area WriteArea(const Suite& s, const std::string& hash,
               const std::vector<std::pair<int, std::string>>& slots) {
  LuksHeader h;
  h.suite = s.suite;
  const std::string name = s.suite.Name();
  const size_t a = name.find('-'), b = name.find('-', a + 1);
  h.cipher_name = name.substr(0, a);
  h.cipher_mode = name.substr(b + 1);
  h.hash_spec = hash;
  h.key_bytes = static_cast<uint32_t>(s.suite.key_bytes);
  const uint64_t sectors = h.slot_sectors();
  for (int i = 0; i < kLuksSlots; ++i) {
    h.slots[i].key_material_offset =
        static_cast<uint32_t>(kLuksHeaderSectors + i * sectors);
  }
  h.payload_offset =
      static_cast<uint32_t>(kLuksHeaderSectors + kLuksSlots * sectors);
  Area out;
  out.bytes.assign(uint64_t{h.payload_offset} * kSectorSize, 0);
  const std::vector<uint8_t> mk = *Bytes(h.key_bytes);
  out.master = SecretBytes(mk.data(), mk.size());
  const std::vector<uint8_t> salt = *Bytes(kLuksSaltSize);
  std::memcpy(h.mk_digest_salt.data(), salt.data(), kLuksSaltSize);
  h.mk_digest_iter = *rc::gen::inRange<uint32_t>(1, 20);
  auto digest = Pbkdf2(hash, mk.data(), mk.size(), salt.data(), salt.size(),
                       h.mk_digest_iter, kLuksDigestSize);
  RC_ASSERT(digest.ok());
  std::memcpy(h.mk_digest.data(), digest->data(), kLuksDigestSize);
  for (const auto& [index, pass] : slots) {
    LuksKeySlot& k = h.slots[index];
    k.active = kLuksSlotEnabled;
    k.iterations = *rc::gen::inRange<uint32_t>(1, 20);
    const std::vector<uint8_t> ks = *Bytes(kLuksSaltSize);
    std::memcpy(k.salt.data(), ks.data(), kLuksSaltSize);
    auto slot_key =
        Pbkdf2(hash, reinterpret_cast<const uint8_t*>(pass.data()), pass.size(),
               k.salt.data(), k.salt.size(), k.iterations, h.key_bytes);
    RC_ASSERT(slot_key.ok());
    const std::vector<uint8_t> noise = Noise(h.key_bytes * kLuksStripes);
    size_t used = 0;
    auto material = AfSplit(hash, mk.data(), mk.size(), kLuksStripes,
                            [&](uint8_t* p, size_t n) {
                              std::memcpy(p, noise.data() + used, n);
                              used += n;
                            });
    RC_ASSERT(material.ok());
    const uint64_t padded =
        DivRoundUp(material->size(), kSectorSize) * kSectorSize;
    std::vector<uint8_t> buf(padded, 0);
    std::memcpy(buf.data(), material->data(), material->size());
    auto cipher =
        SectorCipher::Create(s.suite, slot_key->data(), slot_key->size());
    RC_ASSERT(cipher.ok());
    RC_ASSERT((*cipher)->Encrypt(buf.data(), padded, 0).ok());
    std::memcpy(
        out.bytes.data() + uint64_t{k.key_material_offset} * kSectorSize,
        buf.data(), padded);
  }
  const std::vector<uint8_t> header = SerializeLuksHeader(h);
  std::memcpy(out.bytes.data(), header.data(), header.size());
  return out;
}

rc::Gen<std::string> Passphrase() {
  return rc::gen::resize(64, rc::gen::nonEmpty(rc::gen::container<std::string>(
                                 rc::gen::arbitrary<char>())));
}

RC_GTEST_PROP(LuksProperty, WrittenSlotUnlocks, ()) {
  QCOW2_SPEC("L1.MKD.try_active_slots");
  QCOW2_SPEC("L1.PBKDF2.slot_key");
  QCOW2_SPEC("L1.MKD.verify");
  const Suite& s = *rc::gen::elementOf(Supported());
  const std::string hash = *rc::gen::elementOf(Hashes());
  RC_TAG(s.name);
  const std::string pass = *Passphrase();
  const std::string other = *rc::gen::suchThat(
      Passphrase(), [&](const std::string& p) { return p != pass; });
  const int slot = *rc::gen::inRange(0, kLuksSlots);
  std::vector<std::pair<int, std::string>> slots = {{slot, pass}};
  // Sometimes a second slot, for another passphrase, before or after.
  if (*rc::gen::arbitrary<bool>()) {
    const int second = *rc::gen::suchThat(rc::gen::inRange(0, kLuksSlots),
                                          [&](int i) { return i != slot; });
    slots.push_back({second, other});
  }
  const Area area = WriteArea(s, hash, slots);
  auto h = ParseLuksHeader(area.bytes.data(), area.bytes.size(), 0,
                           area.bytes.size());
  RC_ASSERT(h.ok());
  MemorySource file(area.bytes);
  auto unlocked = UnlockLuks(*h, file, 0, SecretFromString(pass));
  RC_ASSERT(unlocked.ok());
  RC_ASSERT(unlocked->slot == slot);
  RC_ASSERT(unlocked->master_key == area.master);
}

RC_GTEST_PROP(LuksProperty, WrongPassphraseNeverUnlocks, ()) {
  QCOW2_SPEC("L1.MKD.wrong_passphrase");
  const Suite& s = *rc::gen::elementOf(Supported());
  const std::string hash = *rc::gen::elementOf(Hashes());
  const std::string pass = *Passphrase();
  const std::string wrong = *rc::gen::suchThat(
      Passphrase(), [&](const std::string& p) { return p != pass; });
  const Area area =
      WriteArea(s, hash, {{*rc::gen::inRange(0, kLuksSlots), pass}});
  auto h = ParseLuksHeader(area.bytes.data(), area.bytes.size(), 0,
                           area.bytes.size());
  RC_ASSERT(h.ok());
  MemorySource file(area.bytes);
  auto unlocked = UnlockLuks(*h, file, 0, SecretFromString(wrong));
  RC_ASSERT(!unlocked.ok());
  RC_ASSERT(unlocked.error().clause == std::string("L1.MKD.wrong_passphrase"));
}

}  // namespace
}  // namespace qcow2ref
