// check_fuzzer: the input is a whole qcow2 file; CheckImage (the library
// behind `qcow2ref check`) with compressed clusters decompressed. The checker
// never fails for a malformed image (problems become findings): the only
// error it may return for an in-memory file is "unsupported" (a valid
// feature or size it does not handle, exit code 2).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "reference/check/checker.h"
#include "reference/io/byte_source.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace qcow2ref;
  CheckOptions options;
  auto result = CheckImage(
      std::make_unique<MemorySource>(std::vector<uint8_t>(data, data + size)),
      options);
  if (!result.ok() && result.error().kind != ErrorKind::kUnsupported) {
    std::fprintf(stderr, "CheckImage error: %s\n",
                 result.error().ToString().c_str());
    FUZZ_CHECK(result.ok());
  }
  return 0;
}
