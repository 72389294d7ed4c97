// Compressed cluster payloads: raw deflate (type 0) and zstd (type 1).
#ifndef QCOW2REF_REFERENCE_FORMAT_COMPRESSION_H_
#define QCOW2REF_REFERENCE_FORMAT_COMPRESSION_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "reference/status/status.h"

namespace qcow2ref {

// Decompresses `in` into exactly `out_size` bytes at `out`
// (Q2.CMP.exact_cluster). `at` is the host offset, for messages.
Status DecompressCluster(uint8_t compression_type, const uint8_t* in,
                         size_t in_size, uint8_t* out, size_t out_size,
                         uint64_t at);

// How many bytes of a compressed cluster are read and inflated: the
// descriptor's length, but at most twice the cluster size
// (QX.LIMIT.compressed_input).
uint64_t CompressedInputBytes(uint64_t descriptor_bytes, uint64_t cluster_size);

// Compresses one cluster the way QEMU does (raw deflate with a 4 KiB window,
// or zstd level 3). Returns an empty vector when the result would not be
// smaller than `in_size - 1` bytes (then the cluster is stored uncompressed).
std::vector<uint8_t> CompressCluster(uint8_t compression_type,
                                     const uint8_t* in, size_t in_size);

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_FORMAT_COMPRESSION_H_
