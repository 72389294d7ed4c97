/* qcow2ref fuzzing kit: a structure-aware mutator for qcow2 images.
 *
 * It reads the header leniently (no validation), then changes one structure
 * the way real-world corruption and hostile images do: header fields, feature
 * bits, L1/L2 entries (COPIED, zero, compressed descriptors, extended-L2
 * bitmaps), refcount table and block entries, header extension magics and
 * lengths, snapshot table fields, the file length, whole clusters.
 *
 * Plain C API, usable from C and C++. The implementation (qcow2_mutate.cc)
 * needs a C++17 compiler and its standard library, nothing else. Link
 * qcow2_custom_mutator.c as well to give a libFuzzer target
 * LLVMFuzzerCustomMutator.
 */
#ifndef QCOW2_KIT_QCOW2_MUTATE_H_
#define QCOW2_KIT_QCOW2_MUTATE_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A byte-level mutator with libFuzzer's LLVMFuzzerMutate signature. */
typedef size_t (*qcow2_byte_mutator)(uint8_t *data, size_t size,
                                     size_t max_size);

/* Non-zero when data[0, size) starts with a qcow2 header the mutator can
 * work on (magic and at least 72 bytes). */
int qcow2_has_header(const uint8_t *data, size_t size);

/* Mutates data[0, size) in place (the buffer holds max_size bytes) and
 * returns the new size, at most max_size. The same input and seed give the
 * same output. Returns 0 and leaves data alone when qcow2_has_header() is
 * false: the caller then uses another mutator. Sometimes a bit is flipped
 * on top of the structured change. */
size_t qcow2_mutate(uint8_t *data, size_t size, size_t max_size,
                    unsigned int seed);

/* As qcow2_mutate, with byte_mutator (e.g. LLVMFuzzerMutate) for the
 * occasional byte-level change instead of the single bit flip. */
size_t qcow2_mutate_with(uint8_t *data, size_t size, size_t max_size,
                         unsigned int seed, qcow2_byte_mutator byte_mutator);

#ifdef __cplusplus
}
#endif

#endif /* QCOW2_KIT_QCOW2_MUTATE_H_ */
