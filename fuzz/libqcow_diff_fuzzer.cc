// libqcow_diff_fuzzer: qcow2ref as the oracle against libqcow, in process.
// Each input is an image; both read the same bounded windows of it
// (fuzz/differential/classify.h). A disagreement that is not in the known table
// aborts, so libFuzzer keeps the input as a finding; known ones are counted and
// printed at exit. The libFuzzer binary also links the structure-aware
// mutator (fuzz/kit/). libqcow itself is not instrumented: coverage
// and sanitizers cover our side only; a crash or hang inside libqcow still
// stops the run and is a finding about libqcow.
//
// QCOW2REF_DIFF_VERBOSE=1 prints every disagreement, known or not;
// QCOW2REF_DIFF_SURVEY=1 also never aborts (a census of a corpus);
// QCOW2REF_DIFF_SAVE=DIR writes every new disagreement's input to DIR (the
// replay test mutates its inputs in memory, so they exist nowhere else).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "fuzz/differential/classify.h"
#include "fuzz/differential/libqcow_peer.h"

namespace {

std::map<std::string, uint64_t>& Counts() {
  static auto* counts = new std::map<std::string, uint64_t>;
  return *counts;
}

void PrintCounts() {
  for (const auto& [what, n] : Counts()) {
    std::fprintf(stderr, "diff: %-60s %llu\n", what.c_str(),
                 static_cast<unsigned long long>(n));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace qcow2ref::diff;
  static const bool survey = std::getenv("QCOW2REF_DIFF_SURVEY") != nullptr;
  static const bool verbose =
      survey || std::getenv("QCOW2REF_DIFF_VERBOSE") != nullptr;
  static const bool registered = (std::atexit(PrintCounts), true);
  (void)registered;
  std::vector<uint8_t> image(data, data + size);
  if (NeedsMoreThanTheImage(image)) {
    ++Counts()["not_compared"];
    return 0;
  }
  const Verdict v = Compare(image, [&](const std::vector<Window>& windows) {
    return LibqcowRead(image, windows);
  });
  const std::string what = std::string(OutcomeName(v.outcome)) +
                           (v.key.empty() ? "" : " " + v.key) +
                           (v.known ? " (known)" : "");
  ++Counts()[what];
  if (v.outcome == Outcome::kAgree) return 0;
  if (verbose || !v.known) {
    std::fprintf(stderr, "diff: %s: %s%s%s\n", what.c_str(), v.detail.c_str(),
                 v.known ? "; known: " : "", v.known_because.c_str());
  }
  if (!v.known) {
    if (const char* dir = std::getenv("QCOW2REF_DIFF_SAVE")) {
      static int saved = 0;
      const std::string path = std::string(dir) + "/" + OutcomeName(v.outcome) +
                               "-" + std::to_string(saved++);
      if (FILE* f = std::fopen(path.c_str(), "wb")) {
        std::fwrite(data, 1, size, f);
        std::fclose(f);
        std::fprintf(stderr, "diff: input saved as %s\n", path.c_str());
      }
    }
  }
  if (!v.known && !survey) {
    std::fprintf(stderr,
                 "diff: a new disagreement with libqcow (add a vector and a "
                 "FINDINGS entry, then a known-table entry in "
                 "fuzz/differential/classify.cc)\n");
    std::abort();
  }
  return 0;
}
