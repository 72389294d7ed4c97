// aes_image_fuzzer: the input is a whole qcow2 file, opened with a fixed
// passphrase. Seeds are crypt_method 1 (legacy AES) images, so the fuzzer
// mostly explores the AES-CBC read path (guest-sector IVs, partial sectors,
// zero and compressed clusters of an encrypted image). Legacy AES has no key
// check: every passphrase yields a key, and a wrong one only garbles data.
// LUKS images (crypt_method 2) reached by mutation are unlocked with the
// same passphrase; fuzz builds cap PBKDF2 iterations at 2000.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "reference/crypto/secret.h"
#include "reference/image/image.h"
#include "reference/io/byte_source.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace qcow2ref;
  // The passphrase of vectors/images/enc/y_enc_aes_basic.qcow2.
  static const SecretBytes* const kSecret =
      new SecretBytes(SecretFromString("aes-basic-pw"));
  std::vector<uint8_t> bytes(data, data + size);
  OpenOptions options;
  auto img = Image::OpenSource(std::make_unique<MemorySource>(bytes), options,
                               kSecret);
  if (!img.ok()) return 0;
  const Image& opened = **img;
  if (opened.header().crypt_method != CryptMethod::kNone)
    FUZZ_CHECK(opened.can_decrypt());
  fuzz::ExerciseImage(**img);
  return 0;
}
