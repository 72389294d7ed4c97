#include "reference/io/byte_source.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

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
}  // namespace qcow2ref
