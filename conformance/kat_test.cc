// Runs the known-answer vectors of vectors/kat/ (values from RFCs, python
// hashlib, the openssl CLI and cryptsetup: never from this code) through the
// reference crypto layer.
#include <cryptopp/sha.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "reference/crypto/af_splitter.h"
#include "reference/crypto/hashes.h"
#include "reference/crypto/luks_header.h"
#include "reference/crypto/luks_unlock.h"
#include "reference/crypto/sector_cipher.h"
#include "reference/io/byte_source.h"
#include "reference/status/endian.h"

namespace qcow2ref {
namespace {

using nlohmann::json;

json Load(const std::string& name) {
  std::ifstream in("vectors/kat/" + name);
  EXPECT_TRUE(in.good()) << name;
  return json::parse(in);
}

std::vector<uint8_t> Unhex(const std::string& h) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(std::stoi(h.substr(i, 2), nullptr, 16)));
  }
  return out;
}

template <typename Bytes>
std::string Hex(const Bytes& b, size_t n = SIZE_MAX) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < b.size() && i < n; ++i) {
    s += d[b[i] >> 4];
    s += d[b[i] & 15];
  }
  return s;
}

uint64_t Num(const json& v) {
  return v.is_string() ? std::stoull(v.get<std::string>()) : v.get<uint64_t>();
}

// ctr(seed, n): SHA-256(seed || BE32(i)) for i = 0, 1, ..., first n bytes
// (the vectors' documented material generator).
std::vector<uint8_t> Ctr(const std::string& seed, size_t n) {
  std::vector<uint8_t> out;
  for (uint32_t i = 0; out.size() < n; ++i) {
    CryptoPP::SHA256 h;
    h.Update(reinterpret_cast<const uint8_t*>(seed.data()), seed.size());
    uint8_t be[4];
    StoreBe32(be, i);
    h.Update(be, 4);
    uint8_t d[32];
    h.Final(d);
    out.insert(out.end(), d, d + 32);
  }
  out.resize(n);
  return out;
}

std::string Sha256(const uint8_t* p, size_t n) {
  std::vector<uint8_t> d(32);
  CryptoPP::SHA256().CalculateDigest(d.data(), p, n);
  return Hex(d);
}

TEST(KatTest, Pbkdf2) {
  int n = 0;
  const json doc = Load("pbkdf2_test.json");
  for (const auto& g : doc.at("testGroups")) {
    for (const auto& t : g.at("tests")) {
      const auto pw = Unhex(t.at("password"));
      const auto salt = Unhex(t.at("salt"));
      auto dk = Pbkdf2(
          g.at("hash"), pw.data(), pw.size(), salt.data(), salt.size(),
          static_cast<uint32_t>(Num(t.at("iterations"))), Num(t.at("dkLen")));
      ASSERT_TRUE(dk.ok()) << t.at("id");
      EXPECT_EQ(Hex(*dk), t.at("dk").get<std::string>()) << t.at("id");
      ++n;
    }
  }
  EXPECT_GE(n, 30);
}

TEST(KatTest, AfMerge) {
  int n = 0;
  const json doc = Load("luks1_af_test.json");
  for (const auto& g : doc.at("testGroups")) {
    for (const auto& t : g.at("tests")) {
      const size_t key = Num(t.at("keyBytes"));
      const uint32_t stripes = static_cast<uint32_t>(Num(t.at("stripes")));
      std::vector<uint8_t> material =
          t.contains("material") ? Unhex(t.at("material"))
                                 : Ctr(t.at("materialSeed"), key * stripes);
      ASSERT_EQ(Sha256(material.data(), material.size()),
                t.at("materialSha256").get<std::string>())
          << t.at("id");
      auto merged = AfMerge(g.at("hash"), material.data(), key, stripes);
      ASSERT_TRUE(merged.ok()) << t.at("id");
      EXPECT_EQ(Hex(*merged), t.at("key").get<std::string>()) << t.at("id");
      ++n;
    }
  }
  EXPECT_GE(n, 40);
}

TEST(KatTest, MasterKeyDigest) {
  const json doc = Load("luks1_mkdigest_test.json");
  for (const auto& g : doc.at("testGroups")) {
    for (const auto& t : g.at("tests")) {
      const auto mk = Unhex(t.at("masterKey"));
      const auto salt = Unhex(t.at("salt"));
      auto d = Pbkdf2(
          g.at("hash"), mk.data(), mk.size(), salt.data(), salt.size(),
          static_cast<uint32_t>(Num(t.at("iterations"))), kLuksDigestSize);
      ASSERT_TRUE(d.ok());
      EXPECT_EQ(Hex(*d), t.at("digest").get<std::string>()) << t.at("id");
    }
  }
}

TEST(KatTest, IvGenerators) {
  const json doc = Load("luks1_iv_test.json");
  for (const auto& g : doc.at("testGroups")) {
    const std::string ivgen = g.at("ivgen");
    std::string spec;
    std::vector<uint8_t> key(16, 0);
    if (ivgen == "essiv") {
      key = Unhex(g.at("dataKey"));
      spec = "aes-" + std::to_string(key.size() * 8) +
             "-cbc-essiv:" + g.at("ivHash").get<std::string>();
    } else {
      spec = "aes-128-cbc-" + ivgen;
    }
    auto suite = ParseCipherSpec(spec);
    ASSERT_TRUE(suite.ok()) << spec;
    auto c = SectorCipher::Create(*suite, key.data(), key.size());
    ASSERT_TRUE(c.ok()) << spec;
    for (const auto& t : g.at("tests")) {
      auto iv = (*c)->Iv(Num(t.at("sector")));
      ASSERT_TRUE(iv.ok());
      EXPECT_EQ(Hex(*iv), t.at("iv").get<std::string>()) << t.at("id");
    }
  }
}

TEST(KatTest, SectorCiphers) {
  const json doc = Load("sector_cipher_test.json");
  for (const auto& g : doc.at("testGroups")) {
    // "aes-xts-plain64" + keyBytes -> our "aes-<bits>-xts-plain64".
    const std::string name = g.at("cipher");
    const size_t dash = name.find('-');
    const auto key = Unhex(g.at("key"));
    auto suite = ParseCipherSuite(name.substr(0, dash), name.substr(dash + 1),
                                  key.size());
    ASSERT_TRUE(suite.ok()) << name;
    auto c = SectorCipher::Create(*suite, key.data(), key.size());
    ASSERT_TRUE(c.ok()) << name;
    for (const auto& t : g.at("tests")) {
      auto data = Unhex(t.at("plaintext"));
      ASSERT_EQ(data.size() % 512, 0u);
      const uint64_t sector = Num(t.at("sector"));
      EXPECT_EQ(Hex(*(*c)->Iv(sector)), t.at("iv").get<std::string>());
      ASSERT_TRUE((*c)->Encrypt(data.data(), data.size(), sector).ok());
      EXPECT_EQ(Hex(data), t.at("ciphertext").get<std::string>()) << t.at("id");
      ASSERT_TRUE((*c)->Decrypt(data.data(), data.size(), sector).ok());
      EXPECT_EQ(Hex(data), t.at("plaintext").get<std::string>()) << t.at("id");
    }
  }
}

TEST(KatTest, FullUnlockTrace) {
  const json doc = Load("luks1_unlock_test.json");
  for (const auto& g : doc.at("testGroups")) {
    for (const auto& t : g.at("tests")) {
      auto file =
          FileSource::Open("vectors/" + t.at("image").get<std::string>());
      ASSERT_TRUE(file.ok());
      const uint64_t fde = Num(t.at("fdeOffset"));
      uint8_t raw[kLuksHeaderSize];
      ASSERT_TRUE((*file)->ReadAt(fde, raw, sizeof raw).ok());
      auto h = ParseLuksHeader(raw, sizeof raw, fde, Num(t.at("fdeLength")));
      ASSERT_TRUE(h.ok()) << h.error().ToString();
      const auto pass = Unhex(t.at("passphrase"));
      // The slot key.
      const auto& slot = h->slots[Num(t.at("slot"))];
      EXPECT_EQ(Hex(slot.salt), t.at("slotSalt").get<std::string>());
      auto slot_key =
          Pbkdf2(h->hash_spec, pass.data(), pass.size(), slot.salt.data(),
                 slot.salt.size(), slot.iterations, h->key_bytes);
      ASSERT_TRUE(slot_key.ok());
      EXPECT_EQ(Hex(*slot_key), t.at("slotKey").get<std::string>());
      // The master key, through the whole unlock.
      SecretBytes secret(pass.data(), pass.size());
      auto unlocked = UnlockLuks(*h, **file, fde, secret);
      ASSERT_TRUE(unlocked.ok()) << unlocked.error().ToString();
      EXPECT_EQ(Hex(unlocked->master_key),
                t.at("masterKey").get<std::string>());
      // The first data sector: IV and plaintext.
      auto c = SectorCipher::Create(h->suite, unlocked->master_key.data(),
                                    unlocked->master_key.size());
      ASSERT_TRUE(c.ok());
      const uint64_t host = Num(t.at("firstDataHostOffset"));
      const uint64_t sector = Num(t.at("hostSector"));
      EXPECT_EQ(sector, host / 512);
      EXPECT_EQ(Hex(*(*c)->Iv(sector)), t.at("iv").get<std::string>());
      std::vector<uint8_t> data(512);
      ASSERT_TRUE((*file)->ReadAt(host, data.data(), 512).ok());
      EXPECT_EQ(Sha256(data.data(), 512),
                t.at("ciphertextSha256").get<std::string>());
      ASSERT_TRUE((*c)->Decrypt(data.data(), 512, sector).ok());
      EXPECT_EQ(Sha256(data.data(), 512),
                t.at("plaintextSha256").get<std::string>());
    }
  }
}

}  // namespace
}  // namespace qcow2ref
