#include "reference/crypto/sector_cipher.h"

#include <cryptopp/aes.h>
#include <cryptopp/cast.h>
#include <cryptopp/modes.h>
#include <cryptopp/serpent.h>
#include <cryptopp/twofish.h>
#include <cryptopp/xts.h>

#include <cstring>
#include <future>
#include <system_error>

#include "reference/crypto/hashes.h"
#include "reference/crypto/luks_fields.h"

namespace qcow2ref {
namespace {

template <class C>
std::unique_ptr<CryptoPP::SymmetricCipher> MakeMode(CipherMode mode,
                                                    bool encrypt) {
  switch (mode) {
    case CipherMode::kEcb:
      if (encrypt)
        return std::make_unique<typename CryptoPP::ECB_Mode<C>::Encryption>();
      return std::make_unique<typename CryptoPP::ECB_Mode<C>::Decryption>();
    case CipherMode::kCbc:
      if (encrypt)
        return std::make_unique<typename CryptoPP::CBC_Mode<C>::Encryption>();
      return std::make_unique<typename CryptoPP::CBC_Mode<C>::Decryption>();
    case CipherMode::kCtr:
      return std::make_unique<typename CryptoPP::CTR_Mode<C>::Encryption>();
    case CipherMode::kXts:
      if (encrypt)
        return std::make_unique<typename CryptoPP::XTS<C>::Encryption>();
      return std::make_unique<typename CryptoPP::XTS<C>::Decryption>();
  }
  return nullptr;
}

std::unique_ptr<CryptoPP::SymmetricCipher> MakeCipher(CipherFamily f,
                                                      CipherMode m,
                                                      bool encrypt) {
  switch (f) {
    case CipherFamily::kAes:
      return MakeMode<CryptoPP::AES>(m, encrypt);
    case CipherFamily::kSerpent:
      return MakeMode<CryptoPP::Serpent>(m, encrypt);
    case CipherFamily::kTwofish:
      return MakeMode<CryptoPP::Twofish>(m, encrypt);
    case CipherFamily::kCast5:
      return MakeMode<CryptoPP::CAST128>(m, encrypt);
  }
  return nullptr;
}

std::unique_ptr<CryptoPP::BlockCipher> MakeBlockEncryptor(CipherFamily f) {
  switch (f) {
    case CipherFamily::kAes:
      return std::make_unique<CryptoPP::AES::Encryption>();
    case CipherFamily::kSerpent:
      return std::make_unique<CryptoPP::Serpent::Encryption>();
    case CipherFamily::kTwofish:
      return std::make_unique<CryptoPP::Twofish::Encryption>();
    case CipherFamily::kCast5:
      return std::make_unique<CryptoPP::CAST128::Encryption>();
  }
  return nullptr;
}

// Key sizes (bytes, one XTS half) each family accepts in LUKS as QEMU does.
bool FamilyKeySizeOk(CipherFamily f, size_t n) {
  if (f == CipherFamily::kCast5) return n == 16;
  return n == 16 || n == 24 || n == 32;
}

}  // namespace

const char* CipherFamilyName(CipherFamily f) {
  switch (f) {
    case CipherFamily::kAes:
      return "aes";
    case CipherFamily::kSerpent:
      return "serpent";
    case CipherFamily::kTwofish:
      return "twofish";
    case CipherFamily::kCast5:
      return "cast5";
  }
  return "aes";
}

std::string CipherSuite::Name() const {
  static const char* kModes[] = {"ecb", "cbc", "ctr", "xts"};
  static const char* kIvs[] = {"plain", "plain64", "essiv"};
  const size_t bits =
      (mode == CipherMode::kXts ? key_bytes / 2 : key_bytes) * 8;
  std::string s = std::string(CipherFamilyName(family)) + "-" +
                  std::to_string(bits) + "-" + kModes[static_cast<int>(mode)] +
                  "-" + kIvs[static_cast<int>(ivgen)];
  if (ivgen == IvGen::kEssiv) s += ":" + iv_hash;
  return s;
}

Result<CipherSuite> ParseCipherSuite(const std::string& cipher_name,
                                     const std::string& cipher_mode,
                                     uint64_t key_bytes) {
  CipherSuite s;
  // SPEC(L1.PHDR.cipher_name)
  if (cipher_name == "aes")
    s.family = CipherFamily::kAes;
  else if (cipher_name == "serpent")
    s.family = CipherFamily::kSerpent;
  else if (cipher_name == "twofish")
    s.family = CipherFamily::kTwofish;
  else if (cipher_name == "cast5")
    s.family = CipherFamily::kCast5;
  else {
    return Unsupported("L1.PHDR.cipher_name", LuksField::kCipherName.offset,
                       "unsupported LUKS cipher '" + cipher_name + "'");
  }
  // SPEC(L1.PHDR.cipher_mode) is <mode>-<ivgen>[:<hash>].
  const size_t dash = cipher_mode.find('-');
  if (dash == std::string::npos) {
    return Unsupported(
        "L1.PHDR.cipher_mode", LuksField::kCipherMode.offset,
        "cipher mode '" + cipher_mode + "' has no IV generator part");
  }
  const std::string mode = cipher_mode.substr(0, dash);
  std::string ivgen = cipher_mode.substr(dash + 1);
  const size_t colon = ivgen.find(':');
  if (colon != std::string::npos) {
    s.iv_hash = ivgen.substr(colon + 1);
    ivgen = ivgen.substr(0, colon);
  }
  if (mode == "ecb")
    s.mode = CipherMode::kEcb;
  else if (mode == "cbc")
    s.mode = CipherMode::kCbc;
  else if (mode == "ctr")
    s.mode = CipherMode::kCtr;
  else if (mode == "xts")
    s.mode = CipherMode::kXts;
  else {
    return Unsupported("L1.PHDR.cipher_mode", LuksField::kCipherMode.offset,
                       "unsupported cipher mode '" + mode + "'");
  }
  if (ivgen == "plain")
    s.ivgen = IvGen::kPlain;
  else if (ivgen == "plain64")
    s.ivgen = IvGen::kPlain64;
  else if (ivgen == "essiv")
    s.ivgen = IvGen::kEssiv;
  else {
    return Unsupported("L1.PHDR.cipher_mode", LuksField::kCipherMode.offset,
                       "unsupported IV generator '" + ivgen + "'");
  }
  if (s.ivgen == IvGen::kEssiv && s.iv_hash.empty()) {
    return Rejected("L1.PHDR.cipher_mode", LuksField::kCipherMode.offset,
                    "essiv needs a hash (essiv:<hash>)");
  }
  // SPEC(QX.LUKS.plain_ivhash_ignored): must still name a valid hash.
  if (!s.iv_hash.empty() && !IsKnownHash(s.iv_hash)) {
    return Unsupported("L1.PHDR.cipher_mode", LuksField::kCipherMode.offset,
                       "unknown IV hash '" + s.iv_hash + "'");
  }
  // SPEC(L1.PHDR.key_bytes)
  const uint64_t half = s.mode == CipherMode::kXts ? key_bytes / 2 : key_bytes;
  if ((s.mode == CipherMode::kXts && key_bytes % 2 != 0) ||
      !FamilyKeySizeOk(s.family, half)) {
    return Rejected("L1.PHDR.key_bytes", LuksField::kKeyBytes.offset,
                    "key-bytes " + std::to_string(key_bytes) +
                        " is not a valid key size for " + cipher_name + "-" +
                        mode);
  }
  s.key_bytes = key_bytes;
  return s;
}

Result<CipherSuite> ParseCipherSpec(const std::string& spec) {
  // <family>-<bits>-<mode>-<ivgen>[:<hash>]
  const size_t a = spec.find('-');
  const size_t b = a == std::string::npos ? a : spec.find('-', a + 1);
  if (b == std::string::npos) {
    return UsageError("cipher spec '" + spec +
                      "' is not <cipher>-<bits>-<mode>-<ivgen>");
  }
  const std::string family = spec.substr(0, a);
  const std::string bits = spec.substr(a + 1, b - a - 1);
  const std::string mode = spec.substr(b + 1);
  uint64_t key_bits = 0;
  for (char c : bits) {
    if (c < '0' || c > '9') return UsageError("bad key size in " + spec);
    key_bits = key_bits * 10 + static_cast<uint64_t>(c - '0');
  }
  uint64_t key_bytes = key_bits / 8;
  if (mode.rfind("xts", 0) == 0) key_bytes *= 2;
  return ParseCipherSuite(family, mode, key_bytes);
}

SectorCipher::~SectorCipher() = default;

Result<std::unique_ptr<SectorCipher>> SectorCipher::Create(
    const CipherSuite& suite, const uint8_t* key, size_t key_len) {
  QCOW2REF_ASSIGN_OR_RETURN(std::unique_ptr<SectorCipher> c,
                            CreateOne(suite, key, key_len));
  QCOW2REF_ASSIGN_OR_RETURN(c->twin_, CreateOne(suite, key, key_len));
  return c;
}

Result<std::unique_ptr<SectorCipher>> SectorCipher::Fork() const {
  return CreateOne(suite_, key_.data(), key_.size());
}

Result<std::unique_ptr<SectorCipher>> SectorCipher::CreateOne(
    const CipherSuite& suite, const uint8_t* key, size_t key_len) {
  std::unique_ptr<SectorCipher> c(new SectorCipher());
  c->suite_ = suite;
  c->key_.Assign(key, key_len);
  try {
    c->enc_ = MakeCipher(suite.family, suite.mode, true);
    c->dec_ = MakeCipher(suite.family, suite.mode, false);
    SecretBytes iv(suite.block_size());
    std::memset(iv.data(), 0, iv.size());
    if (suite.mode == CipherMode::kEcb) {
      c->enc_->SetKey(key, key_len);
      c->dec_->SetKey(key, key_len);
    } else {
      c->enc_->SetKeyWithIV(key, key_len, iv.data(), iv.size());
      c->dec_->SetKeyWithIV(key, key_len, iv.data(), iv.size());
    }
    if (suite.ivgen == IvGen::kEssiv) {
      // SPEC(QX.LUKS.essiv_cipher): same family, key = HASH(key), as long
      // as the digest.
      auto h = HashByName(suite.iv_hash);
      SecretBytes salt(h->DigestSize());
      h->CalculateDigest(salt.data(), key, key_len);
      c->essiv_ = MakeBlockEncryptor(suite.family);
      if (!c->essiv_->IsValidKeyLength(salt.size())) {
        return Unsupported("QX.LUKS.essiv_cipher",
                           LuksField::kCipherMode.offset,
                           "ESSIV with " + suite.iv_hash + " needs a " +
                               std::to_string(salt.size() * 8) +
                               "-bit key, which this cipher does not take");
      }
      c->essiv_->SetKey(salt.data(), salt.size());
    }
  } catch (const CryptoPP::Exception& e) {
    return Rejected("L1.PHDR.key_bytes", std::nullopt,
                    std::string("cannot key the cipher: ") + e.what());
  }
  return c;
}

void SectorCipher::MakeIv(uint64_t sector, uint8_t* iv) {
  const size_t n = suite_.block_size();
  std::memset(iv, 0, n);
  switch (suite_.ivgen) {
    case IvGen::kPlain:
      // SPEC(L1.OPS.iv_plain): LE32 of the sector number.
      for (size_t i = 0; i < 4 && i < n; ++i)
        iv[i] = static_cast<uint8_t>(sector >> (8 * i));
      break;
    case IvGen::kPlain64:
      // SPEC(L1.OPS.iv_plain64): LE64 of the sector number.
      for (size_t i = 0; i < 8 && i < n; ++i)
        iv[i] = static_cast<uint8_t>(sector >> (8 * i));
      break;
    case IvGen::kEssiv: {
      // SPEC(L1.OPS.iv_essiv): E_{H(key)}(LE64(sector) || 0...).
      // The block is not secret (a sector number), so it lives on the stack.
      const size_t bs = essiv_->BlockSize();
      uint8_t block[16] = {};
      for (size_t i = 0; i < 8 && i < bs; ++i)
        block[i] = static_cast<uint8_t>(sector >> (8 * i));
      essiv_->ProcessBlock(block);
      std::memcpy(iv, block, std::min(bs, n));
      break;
    }
  }
}

Result<SecretBytes> SectorCipher::Iv(uint64_t sector) {
  SecretBytes iv(suite_.block_size());
  MakeIv(sector, iv.data());
  return iv;
}

Status SectorCipher::Process(bool encrypt, uint8_t* data, size_t length,
                             uint64_t first_sector) {
  // SPEC(QX.ENC.sector_unit)
  if (length % kSectorSize != 0) {
    return UsageError("encrypted I/O must be whole 512-byte sectors");
  }
  CryptoPP::SymmetricCipher& c = encrypt ? *enc_ : *dec_;
  uint8_t iv[16];
  try {
    for (size_t off = 0; off < length; off += kSectorSize) {
      if (suite_.mode != CipherMode::kEcb) {
        // SPEC(L1.OPS.cbc_per_sector): chaining restarts at each sector.
        MakeIv(first_sector + off / kSectorSize, iv);
        c.Resynchronize(iv, static_cast<int>(suite_.block_size()));
      }
      c.ProcessData(data + off, data + off, kSectorSize);
    }
  } catch (const CryptoPP::Exception& e) {
    return IoError(std::string("cipher failure: ") + e.what());
  }
  return OkStatus();
}

Status SectorCipher::ProcessLarge(bool encrypt, uint8_t* data, size_t length,
                                  uint64_t first_sector) {
  if (twin_ == nullptr || length < kParallelBytes) {
    return Process(encrypt, data, length, first_sector);
  }
  // The second half of the sectors on another thread, with the twin's own
  // cipher objects (Crypto++ mode objects keep per-call state).
  const size_t half = length / kSectorSize / 2 * kSectorSize;
  std::future<Status> second;
  try {
    second = std::async(std::launch::async, [&] {
      return twin_->Process(encrypt, data + half, length - half,
                            first_sector + half / kSectorSize);
    });
  } catch (const std::system_error&) {
    return Process(encrypt, data, length, first_sector);  // No thread.
  }
  Status first = Process(encrypt, data, half, first_sector);
  Status rest = second.get();
  return first.ok() ? rest : first;
}

Status SectorCipher::Decrypt(uint8_t* data, size_t length,
                             uint64_t first_sector) {
  return ProcessLarge(false, data, length, first_sector);
}

Status SectorCipher::Encrypt(uint8_t* data, size_t length,
                             uint64_t first_sector) {
  return ProcessLarge(true, data, length, first_sector);
}

}  // namespace qcow2ref
