/* qcow2ref fuzzing kit: LLVMFuzzerCustomMutator for a libFuzzer target.
 * Inputs with a qcow2 header get the structure-aware mutator (plus, now and
 * then, libFuzzer's own byte mutations); anything else goes to libFuzzer's
 * default mutator unchanged. Link this file and qcow2_mutate.cc into the
 * fuzzer; nothing in the target itself has to change. */
#include <stddef.h>
#include <stdint.h>

#include "qcow2_mutate.h"

/* Provided by libFuzzer. */
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size,
                               unsigned int seed);

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size,
                               unsigned int seed) {
  if (size > max_size) size = max_size;
  if (!qcow2_has_header(data, size)) {
    return LLVMFuzzerMutate(data, size, max_size);
  }
  return qcow2_mutate_with(data, size, max_size, seed, LLVMFuzzerMutate);
}
