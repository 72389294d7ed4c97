// image_fuzzer: the input is a whole qcow2 file held in memory. Opens it
// without following references and without a secret, maps it and reads
// bounded parts of every extent of the active view and of every snapshot.
// structured_image_fuzzer is this same body linked with the fuzzing kit
// (fuzz/kit/: qcow2_mutate.cc and qcow2_custom_mutator.c).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "reference/image/image.h"
#include "reference/io/byte_source.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace qcow2ref;
  std::vector<uint8_t> bytes(data, data + size);
  OpenOptions options;  // follow_references = false, no secret.
  auto img = Image::OpenSource(std::make_unique<MemorySource>(bytes), options);
  if (!img.ok()) return 0;
  fuzz::ExerciseImage(**img);
  return 0;
}
