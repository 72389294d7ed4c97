// A `main` for the fuzz targets in ordinary (non-libFuzzer) builds: runs
// LLVMFuzzerTestOneInput over every file of the directories given on the
// command line (the target's seed corpus and its regressions), so that
// `bazel test //...` replays every corpus and every crash ever found.
//
//   replay --target=NAME [--known_open=FILE] [--mutations=N] DIR...
//
// Files listed in the known-open file (`<target>/<file>  reason`, one per
// line) are reproducers of bugs not fixed yet: they are skipped with a
// warning. A target linked with a custom mutator (LLVMFuzzerCustomMutator)
// also runs it N times per input with fixed seeds and replays the results,
// which tests the mutator itself; LLVMFuzzerMutate is provided here as a
// simple byte mutator since libFuzzer is not linked.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <set>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv)
    __attribute__((weak));
extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size,
                                          size_t max_size, unsigned int seed)
    __attribute__((weak));

namespace {

std::mt19937* g_rng = nullptr;

}  // namespace

// libFuzzer's default mutator stands in for this in fuzz builds.
extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size,
                                   size_t max_size) {
  static std::mt19937 fallback(1);
  std::mt19937& rng = g_rng != nullptr ? *g_rng : fallback;
  if (size == 0 && max_size > 0) {
    data[0] = static_cast<uint8_t>(rng());
    return 1;
  }
  switch (rng() % 3) {
    case 0:  // Flip a bit.
      data[rng() % size] ^= static_cast<uint8_t>(1u << (rng() % 8));
      return size;
    case 1:  // Set a byte.
      data[rng() % size] = static_cast<uint8_t>(rng());
      return size;
    default:  // Shrink.
      return std::max<size_t>(1, std::min(max_size, size - size / 8));
  }
}

namespace {

namespace fs = std::filesystem;

std::vector<uint8_t> ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

std::set<std::string> ReadKnownOpen(const std::string& path,
                                    const std::string& target) {
  std::set<std::string> out;
  if (path.empty()) return out;
  std::ifstream in(path);
  std::string line;
  const std::string prefix = target + "/";
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const std::string key = line.substr(0, line.find_first_of(" \t"));
    if (key.rfind(prefix, 0) == 0) out.insert(key.substr(prefix.size()));
  }
  return out;
}

bool Skipped(const fs::path& p) {
  const std::string name = p.filename().string();
  return name.empty() || name[0] == '.' || name.rfind("README", 0) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string target, known_open;
  int mutations = 0;
  std::vector<std::string> dirs;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--target=", 0) == 0) {
      target = a.substr(9);
    } else if (a.rfind("--known_open=", 0) == 0) {
      known_open = a.substr(13);
    } else if (a.rfind("--mutations=", 0) == 0) {
      mutations = std::stoi(a.substr(12));
    } else {
      dirs.push_back(a);
    }
  }
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  const std::set<std::string> open = ReadKnownOpen(known_open, target);
  std::vector<fs::path> files;
  for (const std::string& d : dirs) {
    if (!fs::exists(d)) continue;  // An empty regressions dir is not in git.
    for (const auto& e : fs::recursive_directory_iterator(d)) {
      if (e.is_regular_file() && !Skipped(e.path())) files.push_back(e.path());
    }
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    std::fprintf(stderr, "replay %s: no inputs found\n", target.c_str());
    return 1;
  }
  size_t ran = 0, skipped = 0, mutated = 0;
  std::mt19937 rng(20261125);
  g_rng = &rng;
  for (const fs::path& p : files) {
    if (open.count(p.filename().string()) != 0) {
      std::fprintf(stderr,
                   "WARNING: %s/%s is a known open bug "
                   "(fuzz/regressions/known_open.txt): skipped\n",
                   target.c_str(), p.filename().c_str());
      ++skipped;
      continue;
    }
    std::fprintf(stderr, "Running: %s\n", p.c_str());
    std::vector<uint8_t> bytes = ReadFile(p);
    const auto t0 = std::chrono::steady_clock::now();
    LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
            .count();
    if (secs > 1.0) {
      std::fprintf(stderr, "slow input: %s (%.1f s)\n", p.c_str(), secs);
    }
    ++ran;
    if (LLVMFuzzerCustomMutator == nullptr) continue;
    for (int m = 0; m < mutations; ++m) {
      const size_t max_size = bytes.size() + 4096;
      std::vector<uint8_t> buf(bytes);
      buf.resize(max_size);
      const size_t n = LLVMFuzzerCustomMutator(
          buf.data(), bytes.size(), max_size, static_cast<unsigned>(rng()));
      if (n > max_size) {
        std::fprintf(stderr, "mutator returned %zu > max_size %zu\n", n,
                     max_size);
        return 1;
      }
      LLVMFuzzerTestOneInput(buf.data(), n);
      ++mutated;
    }
  }
  std::printf("replay %s: %zu inputs ran, %zu mutants ran, %zu known open\n",
              target.c_str(), ran, mutated, skipped);
  return 0;
}
