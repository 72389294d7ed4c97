// A structure-aware libFuzzer mutator for qcow2 images. It reads the header
// leniently (no validation), then changes one structure the way real-world
// corruption and hostile images do: header fields, feature bits, L1/L2
// entries, refcount table entries, header extension magics and lengths,
// snapshot table fields, the file length. Inputs whose header cannot be read
// go to libFuzzer's byte mutator. Linking qcow2_mutator.cc into a target
// defines LLVMFuzzerCustomMutator for it.
#ifndef QCOW2REF_FUZZ_QCOW2_MUTATOR_H_
#define QCOW2REF_FUZZ_QCOW2_MUTATOR_H_

#include <cstddef>
#include <cstdint>

namespace qcow2ref::fuzz {

// Mutates data[0, size) in place (data holds max_size bytes) and returns
// the new size, at most max_size. Deterministic for a given seed.
size_t MutateQcow2(uint8_t* data, size_t size, size_t max_size,
                   unsigned int seed);

}  // namespace qcow2ref::fuzz

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

#endif  // QCOW2REF_FUZZ_QCOW2_MUTATOR_H_
