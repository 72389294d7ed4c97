#include "reference/format/compression.h"

#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <string>

#include "reference/format/header.h"
#include "reference/format/header_fields.h"

namespace qcow2ref {
namespace {

Status InflateRaw(const uint8_t* in, size_t in_size, uint8_t* out,
                  size_t out_size, uint64_t at) {
  z_stream zs{};
  // SPEC(Q2.CMP.deflate): raw deflate, no zlib header; any window size.
  if (inflateInit2(&zs, -15) != Z_OK) {
    return IoError("zlib initialisation failed");
  }
  zs.next_in = const_cast<uint8_t*>(in);
  zs.avail_in = static_cast<uInt>(in_size);
  zs.next_out = out;
  zs.avail_out = static_cast<uInt>(out_size);
  const int ret = inflate(&zs, Z_FINISH);
  const size_t produced = out_size - zs.avail_out;
  inflateEnd(&zs);
  // SPEC(Q2.CMP.exact_cluster): the output must fill the cluster; trailing
  // input (sector slack) is allowed, as QEMU allows it.
  if (produced != out_size || (ret != Z_STREAM_END && ret != Z_BUF_ERROR)) {
    return Rejected("Q2.CMP.exact_cluster", at,
                    "deflate stream does not decompress to one cluster "
                    "(got " +
                        std::to_string(produced) + " bytes)");
  }
  return OkStatus();
}

Status DecompressZstd(const uint8_t* in, size_t in_size, uint8_t* out,
                      size_t out_size, uint64_t at) {
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  if (dctx == nullptr) return IoError("zstd initialisation failed");
  ZSTD_inBuffer input{in, in_size, 0};
  ZSTD_outBuffer output{out, out_size, 0};
  size_t ret = 1;
  // SPEC(Q2.CMP.zstd): one or more frames, no length prefix.
  while (output.pos < output.size) {
    const size_t before_in = input.pos;
    const size_t before_out = output.pos;
    ret = ZSTD_decompressStream(dctx, &output, &input);
    if (ZSTD_isError(ret)) break;
    if (input.pos == before_in && output.pos == before_out) break;
  }
  ZSTD_freeDCtx(dctx);
  // SPEC(Q2.CMP.exact_cluster): a full cluster and no frame left unfinished.
  if (ZSTD_isError(ret) || output.pos != out_size || ret != 0) {
    return Rejected("Q2.CMP.exact_cluster", at,
                    "zstd stream does not decompress to one cluster (got " +
                        std::to_string(output.pos) + " bytes)");
  }
  return OkStatus();
}

}  // namespace

uint64_t CompressedInputBytes(uint64_t descriptor_bytes,
                              uint64_t cluster_size) {
  // SPEC(QX.LIMIT.compressed_input)
  return std::min(descriptor_bytes, 2 * cluster_size);
}

Status DecompressCluster(uint8_t type, const uint8_t* in, size_t in_size,
                         uint8_t* out, size_t out_size, uint64_t at) {
  if (type == static_cast<uint8_t>(CompressionType::kDeflate)) {
    return InflateRaw(in, in_size, out, out_size, at);
  }
  if (type == static_cast<uint8_t>(CompressionType::kZstd)) {
    return DecompressZstd(in, in_size, out, out_size, at);
  }
  return Unsupported("Q2.HDRV3.compression_type.known",
                     HeaderField::kCompressionType.offset,
                     "unknown compression type " + std::to_string(type));
}

std::vector<uint8_t> CompressCluster(uint8_t type, const uint8_t* in,
                                     size_t in_size) {
  std::vector<uint8_t> out(in_size > 0 ? in_size - 1 : 0);
  if (out.empty()) return {};
  if (type == static_cast<uint8_t>(CompressionType::kDeflate)) {
    z_stream zs{};
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 9,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
      return {};
    }
    zs.next_in = const_cast<uint8_t*>(in);
    zs.avail_in = static_cast<uInt>(in_size);
    zs.next_out = out.data();
    zs.avail_out = static_cast<uInt>(out.size());
    const int ret = deflate(&zs, Z_FINISH);
    const size_t produced = out.size() - zs.avail_out;
    deflateEnd(&zs);
    if (ret != Z_STREAM_END) return {};
    out.resize(produced);
    return out;
  }
  if (type == static_cast<uint8_t>(CompressionType::kZstd)) {
    const size_t n = ZSTD_compress(out.data(), out.size(), in, in_size, 3);
    if (ZSTD_isError(n)) return {};
    out.resize(n);
    return out;
  }
  return {};
}

}  // namespace qcow2ref
