// qcow2_mutate: the structure-aware mutator as a command, for tools that are
// not libFuzzer (the conformance runner's `run.py fuzz`).
//
//   qcow2_mutate IN OUT SEED [ROUNDS]
//
// Reads IN, applies ROUNDS (default 1) mutations seeded from SEED, writes
// OUT. Deterministic: the same input, seed and rounds give the same bytes.
// Exit 0 on success, 64 on a usage or I/O error.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "fuzz/kit/qcow2_mutate.h"

namespace {

std::mt19937* g_bytes = nullptr;

// The byte-level changes the kit asks for now and then, and the whole
// mutation of an input without a qcow2 header: a flipped bit or a set byte,
// seeded from the same SEED (libFuzzer's LLVMFuzzerMutate is not here).
size_t ByteMutate(uint8_t* data, size_t size, size_t max_size) {
  if (size == 0) {
    if (max_size == 0) return 0;
    data[0] = static_cast<uint8_t>((*g_bytes)());
    return 1;
  }
  if ((*g_bytes)() % 2 == 0) {
    data[(*g_bytes)() % size] ^= static_cast<uint8_t>(1u << ((*g_bytes)() % 8));
  } else {
    data[(*g_bytes)() % size] = static_cast<uint8_t>((*g_bytes)());
  }
  return size;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4 || argc > 5) {
    std::fprintf(stderr, "usage: qcow2_mutate IN OUT SEED [ROUNDS]\n");
    return 64;
  }
  char* end = nullptr;
  const unsigned long seed = std::strtoul(argv[3], &end, 10);
  if (*argv[3] == '\0' || *end != '\0') {
    std::fprintf(stderr, "qcow2_mutate: SEED must be a number\n");
    return 64;
  }
  const long rounds = argc == 5 ? std::strtol(argv[4], nullptr, 10) : 1;
  if (rounds < 1 || rounds > 64) {
    std::fprintf(stderr, "qcow2_mutate: ROUNDS must be 1..64\n");
    return 64;
  }
  std::ifstream in(argv[1], std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "qcow2_mutate: cannot read %s\n", argv[1]);
    return 64;
  }
  std::vector<uint8_t> data((std::istreambuf_iterator<char>(in)), {});
  // Room to grow: the mutator may extend the file (the file length is one of
  // the things it changes).
  const size_t max_size = data.size() + (data.size() / 4) + 65536;
  std::mt19937 bytes(static_cast<uint32_t>(seed));
  g_bytes = &bytes;
  size_t size = data.size();
  data.resize(max_size);
  for (long r = 0; r < rounds; ++r) {
    const unsigned int round_seed = static_cast<unsigned int>(seed + r);
    const size_t mutated =
        qcow2_mutate_with(data.data(), size, max_size, round_seed, ByteMutate);
    size = mutated != 0 ? mutated : ByteMutate(data.data(), size, max_size);
  }
  std::ofstream out(argv[2], std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data.data()),
            static_cast<std::streamsize>(size));
  if (!out) {
    std::fprintf(stderr, "qcow2_mutate: cannot write %s\n", argv[2]);
    return 64;
  }
  return 0;
}
