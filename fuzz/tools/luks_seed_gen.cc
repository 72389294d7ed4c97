// Writes fuzz seeds with cheap PBKDF2 counts (fuzz builds refuse more than
// 2000 iterations, and the LUKS vectors use tens of thousands):
//
//   luks_seed_gen area SUITE PASSPHRASE OUT
//       A LUKS1 area (header + key slot 0 material) for a dm-crypt style
//       suite such as aes-128-cbc-plain64, unlocked by PASSPHRASE.
//   luks_seed_gen rekey IMAGE MASTER_KEY_HEX PASSPHRASE OUT
//       A copy of a LUKS qcow2 image whose key slot 0 is rewritten to give
//       the same master key for PASSPHRASE (other slots disabled), so the
//       image's data still decrypts.
//
// Deterministic: salts and AF stripes come from a fixed-seed generator.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "reference/crypto/af_splitter.h"
#include "reference/crypto/hashes.h"
#include "reference/crypto/luks_header.h"
#include "reference/crypto/sector_cipher.h"
#include "reference/format/extensions.h"
#include "reference/format/header.h"
#include "reference/status/checked_math.h"

namespace qcow2ref {
namespace {

constexpr uint32_t kIterations = 16;

std::mt19937 g_rng(20261125);

void Random(uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(g_rng());
}

[[noreturn]] void Die(const std::string& msg) {
  std::fprintf(stderr, "luks_seed_gen: %s\n", msg.c_str());
  std::exit(1);
}

template <typename T>
T Check(Result<T> r) {
  if (!r.ok()) Die(r.error().ToString());
  return std::move(r).value();
}

// Rewrites `h` (mk digest, slot 0) for `master` and `pass`, and writes slot
// 0's encrypted key material into `area` (which starts at the LUKS header).
void WriteSlot0(LuksHeader* h, const SecretBytes& master,
                const std::string& pass, std::vector<uint8_t>* area) {
  Random(h->mk_digest_salt.data(), h->mk_digest_salt.size());
  h->mk_digest_iter = kIterations;
  SecretBytes digest = Check(Pbkdf2(
      h->hash_spec, master.data(), master.size(), h->mk_digest_salt.data(),
      h->mk_digest_salt.size(), kIterations, kLuksDigestSize));
  std::memcpy(h->mk_digest.data(), digest.data(), kLuksDigestSize);
  for (int i = 0; i < kLuksSlots; ++i) {
    h->slots[i].active = i == 0 ? kLuksSlotEnabled : kLuksSlotDisabled;
    h->slots[i].iterations = i == 0 ? kIterations : 0;
    h->slots[i].stripes = kLuksStripes;
  }
  LuksKeySlot& s = h->slots[0];
  Random(s.salt.data(), s.salt.size());
  SecretBytes slot_key = Check(Pbkdf2(
      h->hash_spec, reinterpret_cast<const uint8_t*>(pass.data()), pass.size(),
      s.salt.data(), s.salt.size(), kIterations, h->key_bytes));
  SecretBytes material = Check(AfSplit(h->hash_spec, master.data(),
                                       master.size(), kLuksStripes, Random));
  const uint64_t padded =
      DivRoundUp(material.size(), kSectorSize) * kSectorSize;
  std::vector<uint8_t> buf(padded, 0);
  std::memcpy(buf.data(), material.data(), material.size());
  auto cipher =
      Check(SectorCipher::Create(h->suite, slot_key.data(), slot_key.size()));
  if (!cipher->Encrypt(buf.data(), padded, 0).ok()) Die("encrypt failed");
  const uint64_t at = uint64_t{s.key_material_offset} * kSectorSize;
  if (area->size() < at + padded) area->resize(at + padded, 0);
  std::memcpy(area->data() + at, buf.data(), padded);
  const std::vector<uint8_t> hdr = SerializeLuksHeader(*h);
  std::memcpy(area->data(), hdr.data(), hdr.size());
}

std::vector<uint8_t> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Die("cannot read " + path);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

void WriteFile(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(b.data()),
            static_cast<std::streamsize>(b.size()));
  if (!out) Die("cannot write " + path);
}

void Area(const std::string& spec, const std::string& pass,
          const std::string& out) {
  LuksHeader h;
  h.suite = Check(ParseCipherSpec(spec));
  // cipher-name and cipher-mode strings of the header, from the suite name.
  const std::string name = h.suite.Name();  // e.g. aes-128-cbc-essiv:sha256
  const size_t a = name.find('-'), b = name.find('-', a + 1);
  h.cipher_name = name.substr(0, a);
  h.cipher_mode = name.substr(b + 1);
  h.hash_spec = "sha256";
  h.key_bytes = static_cast<uint32_t>(h.suite.key_bytes);
  h.uuid = "00000000-0000-4000-8000-fuzzseed0000";
  const uint64_t sectors = h.slot_sectors();
  for (int i = 0; i < kLuksSlots; ++i) {
    h.slots[i].key_material_offset =
        static_cast<uint32_t>(kLuksHeaderSectors + i * sectors);
  }
  h.payload_offset =
      static_cast<uint32_t>(kLuksHeaderSectors + kLuksSlots * sectors);
  SecretBytes master(h.key_bytes);
  Random(master.data(), master.size());
  std::vector<uint8_t> area(kLuksHeaderSectors * kSectorSize, 0);
  WriteSlot0(&h, master, pass, &area);
  WriteFile(out, area);
}

void Rekey(const std::string& image, const std::string& master_hex,
           const std::string& pass, const std::string& out) {
  std::vector<uint8_t> file = ReadFile(image);
  Header qh = Check(ParseHeader(file.data(), file.size()));
  Extensions ext = Check(ParseExtensions(
      qh, file.data(), std::min<uint64_t>(file.size(), qh.cluster_size())));
  if (!ext.fde) Die(image + " has no LUKS area");
  const uint64_t off = ext.fde->offset;
  if (off + ext.fde->length > file.size()) Die("LUKS area past EOF");
  LuksHeader h = Check(ParseLuksHeader(file.data() + off, ext.fde->length, off,
                                       ext.fde->length));
  SecretBytes master(master_hex.size() / 2);
  for (size_t i = 0; i < master.size(); ++i) {
    master[i] = static_cast<uint8_t>(
        std::stoi(master_hex.substr(2 * i, 2), nullptr, 16));
  }
  if (master.size() != h.key_bytes) Die("master key length != key-bytes");
  std::vector<uint8_t> area(file.begin() + off,
                            file.begin() + off + ext.fde->length);
  WriteSlot0(&h, master, pass, &area);
  std::copy(area.begin(), area.end(), file.begin() + off);
  WriteFile(out, file);
}

}  // namespace
}  // namespace qcow2ref

int main(int argc, char** argv) {
  const std::vector<std::string> a(argv + 1, argv + argc);
  if (a.size() == 4 && a[0] == "area") {
    qcow2ref::Area(a[1], a[2], a[3]);
  } else if (a.size() == 5 && a[0] == "rekey") {
    qcow2ref::Rekey(a[1], a[2], a[3], a[4]);
  } else {
    std::fprintf(stderr,
                 "usage: luks_seed_gen area SUITE PASSPHRASE OUT\n"
                 "       luks_seed_gen rekey IMAGE MASTER_KEY_HEX "
                 "PASSPHRASE OUT\n");
    return 2;
  }
  return 0;
}
