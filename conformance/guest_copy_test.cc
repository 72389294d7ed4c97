// read's fast path (guest_copy.cc, raw_sink.cc) gives the bytes the slow path
// (Image::Read) gives and the bytes qemu-img gave (each valid vector's
// planned digest), for every vector, into a fresh regular file (holes and
// kernel copies), into a regular file that already holds other bytes (no
// hole may show them), and into a pipe (written in order), on one and on two
// threads, in 1 MiB and in 4 KiB jobs. An image the slow path refuses is
// refused by the fast path with the same clause.
#include "reference/image/guest_copy.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "conformance/vector_manifest.h"
#include "reference/image/image.h"
#include "reference/io/byte_source.h"
#include "reference/io/raw_sink.h"
#include "reference/status/spec_cite.h"

namespace qcow2ref {
namespace {

using conformance::ImageVector;

// What the vectors made the fast path do, summed over the suite: it must
// reach every kind of piece, kernel copies and holes (checked at the end).
struct Reach {
  uint64_t pieces[4] = {0, 0, 0, 0};  // By PieceSource.
  uint64_t kernel_copied = 0;
  uint64_t holes = 0;
  uint64_t chained_file_pieces = 0;  // kFile pieces of a backing file.
};
Reach reach;

void Tally(const Image& img, uint64_t offset, uint64_t length) {
  auto pieces = img.Resolve(offset, length);
  if (!pieces.ok()) return;
  for (const ResolvedPiece& p : *pieces) {
    ++reach.pieces[static_cast<int>(p.source)];
    if (p.source == PieceSource::kFile && p.file != &img.file() &&
        p.file != img.data_file()) {
      ++reach.chained_file_pieces;
    }
  }
}

class ReachCheck : public ::testing::Environment {
 public:
  void TearDown() override {
    EXPECT_GE(reach.pieces[static_cast<int>(PieceSource::kZeros)], 50u);
    EXPECT_GE(reach.pieces[static_cast<int>(PieceSource::kFile)], 50u);
    EXPECT_GE(reach.pieces[static_cast<int>(PieceSource::kEncrypted)], 20u);
    EXPECT_GE(reach.pieces[static_cast<int>(PieceSource::kSlow)], 20u);
    EXPECT_GE(reach.chained_file_pieces, 5u);
    EXPECT_GT(reach.kernel_copied, 1u << 20);
    EXPECT_GT(reach.holes, 1u << 20);
    std::printf(
        "reach: zeros %lu, file %lu (%lu of backing files), encrypted "
        "%lu, slow %lu pieces; kernel-copied %lu, hole %lu bytes\n",
        static_cast<unsigned long>(reach.pieces[0]),
        static_cast<unsigned long>(reach.pieces[1]),
        static_cast<unsigned long>(reach.chained_file_pieces),
        static_cast<unsigned long>(reach.pieces[2]),
        static_cast<unsigned long>(reach.pieces[3]),
        static_cast<unsigned long>(reach.kernel_copied),
        static_cast<unsigned long>(reach.holes));
  }
};
const auto* const kReach =
    ::testing::AddGlobalTestEnvironment(new ReachCheck());

enum class Output { kFreshFile, kUsedFile, kPipe };

struct Way {
  Output output;
  int threads;
  uint64_t chunk;
  const char* name;
};

constexpr Way kWays[] = {
    {Output::kFreshFile, 2, 1u << 20, "fresh file, 2 threads, 1 MiB"},
    {Output::kFreshFile, 2, 4096, "fresh file, 2 threads, 4 KiB"},
    {Output::kUsedFile, 2, 4096, "used file, 2 threads, 4 KiB"},
    {Output::kPipe, 1, 1u << 20, "pipe, 1 thread"},
    {Output::kPipe, 2, 8192, "pipe, 2 threads, 8 KiB"},
    {Output::kFreshFile, 2, 1000, "fresh file, 2 threads, 1000-byte chunks"},
};

std::vector<uint8_t> ReadAll(int fd) {
  std::vector<uint8_t> out;
  uint8_t buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.insert(out.end(), buf, buf + n);
  }
  return out;
}

struct Copied {
  Status status = OkStatus();
  std::vector<uint8_t> bytes;
  uint64_t holes = 0;
};

// Copies [offset, offset + length) the given way; returns what came out.
Copied CopyOut(const Image& img, uint64_t offset, uint64_t length,
               const Way& way, const std::string& scratch) {
  Copied c;
  GuestCopyOptions options;
  options.threads = way.threads;
  options.chunk = way.chunk;
  if (way.output == Output::kPipe) {
    int fds[2];
    EXPECT_EQ(::pipe(fds), 0);
    std::thread drain([&] { c.bytes = ReadAll(fds[0]); });
    {
      RawSink sink(fds[1]);
      EXPECT_FALSE(sink.positional());
      c.status = CopyGuestRange(img, offset, length, &sink, options);
    }
    ::close(fds[1]);
    drain.join();
    ::close(fds[0]);
    return c;
  }
  const int fd = ::open(scratch.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
  EXPECT_GE(fd, 0);
  // A used file: 0xA5 bytes up to past the output's end; the output starts
  // at byte 0 and only its own length is compared.
  std::vector<uint8_t> old;
  if (way.output == Output::kUsedFile) {
    old.assign(length + 3, 0xA5);
    EXPECT_EQ(::write(fd, old.data(), old.size()),
              static_cast<ssize_t>(old.size()));
    EXPECT_EQ(::lseek(fd, 0, SEEK_SET), 0);
  }
  RawSink sink(fd);
  EXPECT_TRUE(sink.positional());
  c.status = CopyGuestRange(img, offset, length, &sink, options);
  c.holes = sink.hole_bytes();
  reach.holes += sink.hole_bytes();
  reach.kernel_copied += sink.kernel_copied();
  if (c.status.ok()) {
    // The descriptor is left after the last byte written.
    EXPECT_EQ(::lseek(fd, 0, SEEK_CUR), static_cast<off_t>(length));
    EXPECT_EQ(::lseek(fd, 0, SEEK_SET), 0);
    c.bytes = ReadAll(fd);
    if (way.output == Output::kUsedFile) {
      EXPECT_EQ(c.holes, 0u) << "a hole would show the old bytes";
      EXPECT_EQ(c.bytes.size(), old.size());
      c.bytes.resize(length);
    }
  }
  ::close(fd);
  return c;
}

Result<std::vector<uint8_t>> SlowRead(const Image& img, uint64_t offset,
                                      uint64_t length) {
  std::vector<uint8_t> out(length);
  QCOW2REF_RETURN_IF_ERROR(img.Read(offset, out.data(), length));
  return out;
}

class GuestCopyTest : public ::testing::TestWithParam<ImageVector> {};

TEST_P(GuestCopyTest, SameBytesAsTheSlowPathAndQemu) {
  QCOW2_SPEC("Q2.ENC.payload");
  QCOW2_SPEC("QX.CLI.output_not_input");
  ImageVector v = GetParam();
  const std::string tmp = std::getenv("TEST_TMPDIR");
  v.image = conformance::StageVector(v, tmp + "/" + v.id);
  std::vector<SecretBytes> secrets;
  for (const std::string& p : v.passphrases) {
    secrets.push_back(SecretFromString(p));
  }
  OpenOptions options;
  options.follow_references = true;
  if (v.verdict == "valid") {
    for (const conformance::ExpectedRead& r : v.reads) {
      // Big views are proven by the slow-path suites; 64 MiB is plenty here.
      if (r.size > (64u << 20)) continue;
      auto img = Image::Open(
          v.image, options, secrets.empty() ? nullptr : &secrets[r.passphrase]);
      ASSERT_TRUE(img.ok()) << v.id << ": " << img.error().ToString();
      if (!r.snapshot.empty()) {
        ASSERT_TRUE((*img)->SelectSnapshot(r.snapshot).ok());
      }
      const uint64_t offset = r.offset.value_or(0);
      const uint64_t length = r.length.value_or((*img)->guest_size());
      auto slow = SlowRead(**img, offset, length);
      ASSERT_TRUE(slow.ok()) << v.id << ": " << slow.error().ToString();
      Tally(**img, offset, length);
      for (const Way& way : kWays) {
        Copied c = CopyOut(**img, offset, length, way, tmp + "/out.raw");
        ASSERT_TRUE(c.status.ok()) << v.id << " " << r.what << " (" << way.name
                                   << "): " << c.status.error().ToString();
        ASSERT_EQ(c.bytes.size(), length) << v.id << " " << way.name;
        EXPECT_TRUE(c.bytes == *slow) << v.id << " " << r.what << " ("
                                      << way.name << "): differs from Read";
        EXPECT_EQ(conformance::Sha256Hex(c.bytes.data(), c.bytes.size()),
                  r.sha256)
            << v.id << " " << r.what << " (" << way.name << ")";
      }
    }
    return;
  }
  // Refused or accepted alike: the same outcome on both paths.
  auto img =
      Image::Open(v.image, options, secrets.empty() ? nullptr : &secrets[0]);
  if (!img.ok()) return;  // Nothing to copy.
  auto slow = SlowRead(**img, 0, (*img)->guest_size());
  for (const Way& way : kWays) {
    Copied c = CopyOut(**img, 0, (*img)->guest_size(), way, tmp + "/out.raw");
    ASSERT_EQ(c.status.ok(), slow.ok())
        << v.id << " (" << way.name << "): "
        << (slow.ok() ? c.status.error().ToString() : slow.error().ToString());
    if (slow.ok()) {
      EXPECT_TRUE(c.bytes == *slow) << v.id << " (" << way.name << ")";
    } else {
      EXPECT_EQ(c.status.error().clause, slow.error().clause)
          << v.id << " (" << way.name << "): " << c.status.error().ToString();
    }
  }
}

std::string TestName(const ::testing::TestParamInfo<ImageVector>& info) {
  return info.param.id;
}

INSTANTIATE_TEST_SUITE_P(Vectors, GuestCopyTest,
                         ::testing::ValuesIn(conformance::LoadImageVectors()),
                         TestName);

// A file of zeros past the end of its data: nothing but a hole is written,
// and the file still ends at the output's end.
TEST(RawSinkTest, TrailingZerosAreAHoleInAFreshFile) {
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/h.raw";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  RawSink sink(fd);
  const std::vector<uint8_t> data(4096, 7);
  ASSERT_TRUE(sink.Write(data.data(), data.size()).ok());
  ASSERT_TRUE(sink.WriteZeros(64u << 20).ok());
  ASSERT_TRUE(sink.Finish().ok());
  struct stat st;
  ASSERT_EQ(::fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, 4096 + (64 << 20));
  EXPECT_EQ(sink.hole_bytes(), 64u << 20);
  // Allocated: the 4 KiB of data, not the 64 MiB of zeros.
  EXPECT_LT(st.st_blocks * 512, 1 << 20);
  EXPECT_EQ(::lseek(fd, 4096, SEEK_DATA), -1);  // ENXIO: only a hole follows.
  ::close(fd);
}

// Zeros that straddle the end of bytes the file already had: written as
// zeros up to the old end (a hole there would show the old bytes), a hole
// past it.
TEST(RawSinkTest, ZerosAcrossTheOldEndAreWrittenThenAHole) {
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/s.raw";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  const std::vector<uint8_t> old(10000, 0xA5);
  ASSERT_EQ(::write(fd, old.data(), old.size()), 10000);
  ASSERT_EQ(::lseek(fd, 0, SEEK_SET), 0);
  RawSink sink(fd);
  const std::vector<uint8_t> data(4096, 7);
  ASSERT_TRUE(sink.Write(data.data(), data.size()).ok());
  ASSERT_TRUE(sink.WriteZeros(65536).ok());
  ASSERT_TRUE(sink.Finish().ok());
  // Derivation: bytes 4096..9999 were old bytes, so they are written; the
  // 65536 - 5904 zeros past byte 10000 are the hole.
  EXPECT_EQ(sink.hole_bytes(), 65536u - (10000u - 4096u));
  ASSERT_EQ(::lseek(fd, 0, SEEK_SET), 0);
  std::vector<uint8_t> want(4096 + 65536, 0);
  std::fill(want.begin(), want.begin() + 4096, 7);
  EXPECT_TRUE(ReadAll(fd) == want);
  ::close(fd);
}

// A plain copy between two files goes through the kernel; from memory (no
// descriptor) it goes through a buffer; the bytes are the same.
TEST(RawSinkTest, KernelCopyAndMemoryCopyGiveTheSameBytes) {
  const std::string dir = std::getenv("TEST_TMPDIR");
  std::vector<uint8_t> bytes(3 * 1024 * 1024 + 17);
  for (size_t i = 0; i < bytes.size(); ++i)
    bytes[i] = static_cast<uint8_t>(i * 131 + (i >> 9));
  const std::string in_path = dir + "/in.bin";
  {
    const int fd = ::open(in_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT_EQ(::write(fd, bytes.data(), bytes.size()),
              static_cast<ssize_t>(bytes.size()));
    ::close(fd);
  }
  auto file = FileSource::Open(in_path);
  ASSERT_TRUE(file.ok());
  MemorySource memory(bytes);
  for (const ByteSource* src : {static_cast<const ByteSource*>(file->get()),
                                static_cast<const ByteSource*>(&memory)}) {
    const std::string out_path = dir + "/out.bin";
    const int fd = ::open(out_path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    RawSink sink(fd);
    ASSERT_TRUE(sink.Copy(*src, 5, bytes.size() - 5).ok());
    ASSERT_TRUE(sink.Finish().ok());
    EXPECT_EQ(sink.kernel_copied(), src == &memory ? 0u : bytes.size() - 5);
    ::lseek(fd, 0, SEEK_SET);
    EXPECT_TRUE(ReadAll(fd) ==
                std::vector<uint8_t>(bytes.begin() + 5, bytes.end()));
    ::close(fd);
  }
}

// A full device: the first write fails with one error, on either thread
// count, and nothing is retried forever.
TEST(RawSinkTest, FullDeviceIsOneWriteError) {
  const int fd = ::open("/dev/full", O_WRONLY);
  if (fd < 0) GTEST_SKIP() << "no /dev/full";
  RawSink sink(fd);
  EXPECT_FALSE(sink.positional());
  const std::vector<uint8_t> data(4096, 1);
  Status st = sink.Write(data.data(), data.size());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().ToString().find("write error"), std::string::npos);
  EXPECT_FALSE(sink.WriteZeros(1 << 20).ok());
  ::close(fd);
}

}  // namespace
}  // namespace qcow2ref
