// cipher_bench: in-process ceilings for the benchmark driver (bench.py).
//
//   cipher_bench ciphers MIB
//     Crypto++ over 512-byte sectors, one Resynchronize + ProcessData per
//     sector, the way an encrypted read must work: AES-256-XTS-plain64,
//     AES-128-CBC-plain64 (legacy AES) and AES-128-CBC-ESSIV:SHA256 decrypt,
//     each the best of three passes over a MIB-sized buffer. Also the same
//     through qcow2ref's SectorCipher, and the two-core XTS ceiling (two
//     threads, wall clock).
//   cipher_bench pbkdf2 IMAGE
//     The PBKDF2 floor of unlocking IMAGE's first LUKS slot: the slot's and
//     the master-key digest's iteration counts, timed with qcow2ref's Pbkdf2
//     and with Crypto++'s stock PKCS5_PBKDF2_HMAC.
//
// Times are CPU seconds of the whole process (SectorCipher and Pbkdf2 use a
// second thread for large requests), so MB/s is per CPU second.
// Prints one JSON object on stdout.
#include <cryptopp/aes.h>
#include <cryptopp/cpu.h>
#include <cryptopp/modes.h>
#include <cryptopp/pwdbased.h>
#include <cryptopp/sha.h>
#include <cryptopp/xts.h>
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "reference/crypto/hashes.h"
#include "reference/crypto/sector_cipher.h"
#include "reference/image/image.h"

namespace {

// CPU seconds of the whole process (Pbkdf2 derives output blocks on threads
// of their own: their CPU time belongs to the floor too).
double ProcessCpuSeconds(const std::function<void()>& f) {
  auto now = [] {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
  };
  const double t0 = now();
  f();
  return now() - t0;
}

// Best of three passes, in MB/s (10^6 bytes per CPU second).
double BestMbps(size_t bytes, const std::function<void()>& pass) {
  double best = 1e30;
  for (int i = 0; i < 3; ++i) best = std::min(best, ProcessCpuSeconds(pass));
  return bytes / best / 1e6;
}

void Plain64Iv(uint64_t sector, uint8_t iv[16]) {
  std::memset(iv, 0, 16);
  for (int i = 0; i < 8; ++i) iv[i] = static_cast<uint8_t>(sector >> (8 * i));
}

// Per-sector decryption with a Crypto++ mode object, IV from `make_iv`.
double SectorMbps(CryptoPP::SymmetricCipher& c, std::vector<uint8_t>& buf,
                  const std::function<void(uint64_t, uint8_t*)>& make_iv) {
  return BestMbps(buf.size(), [&] {
    uint8_t iv[16];
    for (size_t off = 0; off < buf.size(); off += 512) {
      make_iv(off / 512, iv);
      c.Resynchronize(iv, 16);
      c.ProcessData(buf.data() + off, buf.data() + off, 512);
    }
  });
}

// The two-core ceiling: each half of the buffer on its own thread with its
// own XTS object (Crypto++ mode objects keep per-call state), best of three
// on the wall clock: what two cores can decrypt per second at most.
double TwoCoreXtsWallMbps(const std::vector<uint8_t>& key,
                          std::vector<uint8_t>& buf) {
  uint8_t zero_iv[16] = {};
  CryptoPP::XTS<CryptoPP::AES>::Decryption xts[2];
  for (auto& x : xts) x.SetKeyWithIV(key.data(), 64, zero_iv, 16);
  const size_t half = buf.size() / 2 / 512 * 512;
  auto pass = [&](int t) {
    uint8_t iv[16];
    const size_t begin = t == 0 ? 0 : half;
    const size_t end = t == 0 ? half : buf.size();
    for (size_t off = begin; off < end; off += 512) {
      Plain64Iv(off / 512, iv);
      xts[t].Resynchronize(iv, 16);
      xts[t].ProcessData(buf.data() + off, buf.data() + off, 512);
    }
  };
  double best = 1e30;
  for (int i = 0; i < 3; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    std::thread second(pass, 1);
    pass(0);
    second.join();
    best = std::min(best, std::chrono::duration<double>(
                              std::chrono::steady_clock::now() - t0)
                              .count());
  }
  return buf.size() / best / 1e6;
}

double ReferenceMbps(const std::string& spec, const std::vector<uint8_t>& key,
                     std::vector<uint8_t>& buf) {
  auto suite = qcow2ref::ParseCipherSpec(spec);
  if (!suite.ok()) return 0;
  auto c = qcow2ref::SectorCipher::Create(*suite, key.data(), key.size());
  if (!c.ok()) return 0;
  return BestMbps(buf.size(),
                  [&] { (void)(*c)->Decrypt(buf.data(), buf.size(), 0); });
}

int Ciphers(size_t mib) {
  std::vector<uint8_t> buf(mib << 20, 0x5a);
  std::vector<uint8_t> key(64);
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(i * 7);
  uint8_t zero_iv[16] = {};
  nlohmann::ordered_json j;
  j["aesni"] = CryptoPP::HasAESNI();
  j["buffer_mib"] = mib;

  CryptoPP::XTS<CryptoPP::AES>::Decryption xts;
  xts.SetKeyWithIV(key.data(), 64, zero_iv, 16);
  j["xts_aes256_plain64_mbps"] = SectorMbps(xts, buf, Plain64Iv);

  CryptoPP::CBC_Mode<CryptoPP::AES>::Decryption cbc;
  cbc.SetKeyWithIV(key.data(), 16, zero_iv, 16);
  j["cbc_aes128_plain64_mbps"] = SectorMbps(cbc, buf, Plain64Iv);

  // ESSIV: IV = AES-256_{SHA256(key)}(LE64(sector)).
  uint8_t salt[32];
  CryptoPP::SHA256().CalculateDigest(salt, key.data(), 16);
  CryptoPP::AES::Encryption essiv(salt, sizeof(salt));
  j["cbc_aes128_essiv_sha256_mbps"] =
      SectorMbps(cbc, buf, [&](uint64_t sector, uint8_t* iv) {
        Plain64Iv(sector, iv);
        essiv.ProcessBlock(iv);
      });

  j["xts_aes256_plain64_two_core_wall_mbps"] = TwoCoreXtsWallMbps(key, buf);

  j["ref_xts_aes256_plain64_mbps"] =
      ReferenceMbps("aes-256-xts-plain64", key, buf);
  key.resize(16);
  j["ref_cbc_aes128_plain64_mbps"] =
      ReferenceMbps("aes-128-cbc-plain64", key, buf);
  j["ref_cbc_aes128_essiv_sha256_mbps"] =
      ReferenceMbps("aes-128-cbc-essiv:sha256", key, buf);
  std::printf("%s\n", j.dump().c_str());
  return 0;
}

template <class H>
double StockPbkdf2Seconds(uint32_t iterations, size_t out_len) {
  const uint8_t pw[] = "benchmark";
  const uint8_t salt[32] = {};
  std::vector<uint8_t> out(out_len);
  CryptoPP::PKCS5_PBKDF2_HMAC<H> kdf;
  return ProcessCpuSeconds([&] {
    kdf.DeriveKey(out.data(), out.size(), 0, pw, sizeof(pw) - 1, salt,
                  sizeof(salt), iterations);
  });
}

int Pbkdf2(const std::string& path) {
  auto image = qcow2ref::Image::Open(path, {});
  if (!image.ok() || !(*image)->luks()) {
    std::fprintf(stderr, "cipher_bench: %s is not a LUKS qcow2 image\n",
                 path.c_str());
    return 1;
  }
  const qcow2ref::LuksHeader& h = *(*image)->luks();
  const uint32_t slot_iter = h.slots[0].iterations;
  const uint8_t pw[] = "benchmark";
  const uint8_t salt[32] = {};
  auto ours = [&](uint32_t iterations, size_t out_len) {
    return ProcessCpuSeconds([&] {
      (void)qcow2ref::Pbkdf2(h.hash_spec, pw, sizeof(pw) - 1, salt,
                             sizeof(salt), iterations, out_len);
    });
  };
  nlohmann::ordered_json j;
  j["hash"] = h.hash_spec;
  j["key_bytes"] = h.key_bytes;
  j["slot_iterations"] = slot_iter;
  j["digest_iterations"] = h.mk_digest_iter;
  j["ref_slot_s"] = ours(slot_iter, h.key_bytes);
  j["ref_digest_s"] = ours(h.mk_digest_iter, qcow2ref::kLuksDigestSize);
  if (h.hash_spec == "sha256") {
    j["stock_slot_s"] =
        StockPbkdf2Seconds<CryptoPP::SHA256>(slot_iter, h.key_bytes);
    j["stock_digest_s"] = StockPbkdf2Seconds<CryptoPP::SHA256>(
        h.mk_digest_iter, qcow2ref::kLuksDigestSize);
  }
  std::printf("%s\n", j.dump().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "ciphers") == 0) {
    return Ciphers(std::stoul(argv[2]));
  }
  if (argc == 3 && std::strcmp(argv[1], "pbkdf2") == 0) return Pbkdf2(argv[2]);
  std::fprintf(stderr, "usage: cipher_bench ciphers MIB | pbkdf2 IMAGE\n");
  return 3;
}
