#include "reference/io/byte_source.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "reference/io/byte_store.h"
#include "reference/io/descriptor.h"

namespace qcow2ref {
namespace {

TEST(MemorySourceTest, ReadsInsideAndRefusesOutside) {
  MemorySource src({1, 2, 3, 4});
  uint8_t buf[4] = {};
  ASSERT_TRUE(src.ReadAt(1, buf, 3).ok());
  EXPECT_EQ(buf[0], 2);
  EXPECT_EQ(buf[2], 4);
  EXPECT_FALSE(src.ReadAt(2, buf, 3).ok());
  EXPECT_FALSE(src.ReadAt(UINT64_MAX, buf, 2).ok());
}

TEST(MemorySourceTest, ZeroFilledPastEnd) {
  MemorySource src({9, 9});
  uint8_t buf[4] = {1, 1, 1, 1};
  ASSERT_TRUE(src.ReadAtZeroFilled(1, buf, 4).ok());
  EXPECT_EQ(buf[0], 9);
  EXPECT_EQ(buf[1], 0);
  EXPECT_EQ(buf[3], 0);
  ASSERT_TRUE(src.ReadAtZeroFilled(100, buf, 4).ok());
  EXPECT_EQ(buf[0], 0);
}

TEST(FileSourceTest, ReadsAFile) {
  std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/f.bin";
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::fputs("hello", f);
  std::fclose(f);
  auto src = FileSource::Open(path);
  ASSERT_TRUE(src.ok());
  EXPECT_EQ((*src)->Size(), 5u);
  uint8_t buf[3];
  ASSERT_TRUE((*src)->ReadAt(2, buf, 3).ok());
  EXPECT_EQ(buf[0], 'l');
  EXPECT_FALSE((*src)->ReadAt(3, buf, 3).ok());
  EXPECT_FALSE(FileSource::Open(path + ".missing").ok());
}

// A file that shrinks after it was opened (its size is taken at open):
// the read ends with an error instead of waiting for bytes that never come.
TEST(FileSourceTest, FileShrunkAfterOpenIsAnError) {
  std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/shrink.bin";
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::fputs("0123456789", f);
  std::fclose(f);
  auto src = FileSource::Open(path);
  ASSERT_TRUE(src.ok());
  ASSERT_EQ((*src)->Size(), 10u);
  ASSERT_EQ(::truncate(path.c_str(), 4), 0);
  uint8_t buf[8];
  auto st = (*src)->ReadAt(2, buf, 8);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("unexpected end of file"),
            std::string::npos)
      << st.error().ToString();
}

}  // namespace
// A flush the kernel refuses is an error, never a silent success: callers
// acknowledge writes only after Flush() returned OK. /dev/null takes writes
// but refuses fdatasync (EINVAL), which is the failure to report.
TEST(FileStoreTest, AFailedSyncIsAnError) {
  // FileStore::Open takes regular files and block devices only; a
  // descriptor adopted as is stands for a device whose sync fails.
  OpenedFd null_fd;
  null_fd.fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  ASSERT_GE(null_fd.fd, 0);
  auto store = FileStore::Adopt(null_fd, "/dev/null", false);
  ASSERT_TRUE(store.ok()) << store.error().ToString();
  const uint8_t byte = 1;
  EXPECT_TRUE((*store)->WriteAt(0, &byte, 1).ok());
  Status st = (*store)->Flush();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().ToString().find("fdatasync"), std::string::npos);
}

}  // namespace qcow2ref
