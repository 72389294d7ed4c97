// The path policy of referenced files, on a fixture tree made in the test's
// temp dir: the openat2 path and the O_NOFOLLOW walk used without it.
#include "reference/io/referenced_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <string>

#include "reference/io/beneath.h"
#include "reference/status/spec_cite.h"

namespace qcow2ref {
namespace {

class ReferencedFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* base = std::getenv("TEST_TMPDIR");
    root_ = std::string(base ? base : "/tmp") + "/refXXXXXX";
    ASSERT_NE(::mkdtemp(root_.data()), nullptr);
    dir_ = root_ + "/img";
    ASSERT_EQ(::mkdir(dir_.c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((dir_ + "/sub").c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((root_ + "/outside").c_str(), 0755), 0);
    Write(dir_ + "/base.raw");
    Write(dir_ + "/sub/inner.raw");
    Write(root_ + "/outside/victim");
    Link("../outside/victim", "out_link");
    Link("base.raw", "in_link");
    Link("../outside", "out_dir");
    ASSERT_EQ(::mkfifo((dir_ + "/fifo").c_str(), 0644), 0);
    dirfd_ = ::open(dir_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(dirfd_, 0);
  }
  void TearDown() override {
    ::close(dirfd_);
    std::string cmd = "rm -rf '" + root_ + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  static void Write(const std::string& path) { std::ofstream(path) << "data"; }
  void Link(const std::string& target, const std::string& name) {
    ASSERT_EQ(::symlink(target.c_str(), (dir_ + "/" + name).c_str()), 0);
  }
  // errno of a walk open, or 0 when it opened.
  int WalkErrno(const std::string& name) {
    const int fd = OpenBeneathWalk(dirfd_, name, O_RDONLY | O_NONBLOCK, 0);
    if (fd >= 0) {
      ::close(fd);
      return 0;
    }
    return errno;
  }
  Result<std::unique_ptr<FileSource>> Open(const std::string& name,
                                           bool any = false) {
    ReferenceRequest r;
    r.directory = dir_;
    r.name = name;
    r.allow_any_path = any;
    r.what = "backing file";
    r.at = 72;
    return OpenReferencedSource(r);
  }

  std::string root_, dir_;
  int dirfd_ = -1;
};

TEST_F(ReferencedFileTest, WalkStaysBeneathAndFollowsNoSymlink) {
  QCOW2_SPEC("QX.BK.resolve_beneath");
  EXPECT_EQ(WalkErrno("base.raw"), 0);
  EXPECT_EQ(WalkErrno("sub/inner.raw"), 0);
  EXPECT_EQ(WalkErrno("sub/../base.raw"), 0);
  EXPECT_EQ(WalkErrno("./sub//inner.raw"), 0);
  EXPECT_EQ(WalkErrno("../outside/victim"), EXDEV);
  EXPECT_EQ(WalkErrno("sub/../../outside/victim"), EXDEV);
  EXPECT_EQ(WalkErrno("/etc/passwd"), EXDEV);
  EXPECT_EQ(WalkErrno("out_link"), ELOOP);
  EXPECT_EQ(WalkErrno("in_link"), ELOOP);  // Stricter than openat2.
  EXPECT_EQ(WalkErrno("out_dir/victim"), ELOOP);
  EXPECT_EQ(WalkErrno("missing"), ENOENT);
  // A trailing slash names a directory: never the file before it.
  EXPECT_EQ(WalkErrno("base.raw/"), EISDIR);
  EXPECT_EQ(WalkErrno("sub/"), EISDIR);
  EXPECT_EQ(WalkErrno(""), ENOENT);
}

TEST_F(ReferencedFileTest, PolicyRefusesEscapesByResolution) {
  QCOW2_SPEC("QX.BK.resolve_beneath");
  for (const char* name : {"out_link", "out_dir/victim"}) {
    auto r = Open(name);
    ASSERT_FALSE(r.ok()) << name;
    EXPECT_EQ(r.error().clause, "QX.BK.resolve_beneath") << name;
    EXPECT_EQ(r.error().offset, std::optional<uint64_t>(72));
    EXPECT_TRUE(Open(name, true).ok()) << name;
  }
  EXPECT_TRUE(Open("base.raw").ok());
  EXPECT_TRUE(Open("sub/inner.raw").ok());
}

TEST_F(ReferencedFileTest, TextPolicyStillApplies) {
  QCOW2_SPEC("QX.BK.path_policy");
  auto r = Open("../outside/victim");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().clause, "QX.BK.path_policy");
  EXPECT_FALSE(IsContainedRelativePath("/etc/passwd"));
}

TEST_F(ReferencedFileTest, OnlyRegularFilesWithoutBlocking) {
  QCOW2_SPEC("QX.BK.regular_only");
  for (bool any : {false, true}) {
    auto r = Open("fifo", any);  // Would block forever without O_NONBLOCK.
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().clause, "QX.BK.regular_only");
    EXPECT_EQ(r.error().kind, ErrorKind::kRejected);
  }
  auto dir = Open("sub");
  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(dir.error().clause, "QX.BK.regular_only");
}

TEST_F(ReferencedFileTest, StoreRefusesAnInputBeforeTruncating) {
  QCOW2_SPEC("QX.CLI.output_not_input");
  ReferenceRequest r;
  r.directory = dir_;
  r.name = "base.raw";
  auto src = Open("base.raw");
  ASSERT_TRUE(src.ok());
  const std::set<FileId> inputs = {*(*src)->Identity()};
  auto store = OpenReferencedStore(r, true, true, &inputs);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().clause, "QX.CLI.output_not_input");
  struct stat st;
  ASSERT_EQ(::stat((dir_ + "/base.raw").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 4);  // Not truncated.
  auto plain = FileStore::Open(dir_ + "/base.raw", true, true, &inputs);
  ASSERT_FALSE(plain.ok());
  EXPECT_EQ(plain.error().clause, "QX.CLI.output_not_input");
  ASSERT_EQ(::stat((dir_ + "/base.raw").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 4);
}

// Opening a store that is not there (without create) fails as an I/O
// error naming the file; an existing one without overwrite is a usage error.
TEST_F(ReferencedFileTest, StoreOpenFailuresSayWhy) {
  auto missing = FileStore::Open(dir_ + "/absent.qcow2", false, false);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().kind, ErrorKind::kIo);
  EXPECT_NE(
      missing.error().message.find("cannot open " + dir_ + "/absent.qcow2"),
      std::string::npos)
      << missing.error().ToString();
  auto exists = FileStore::Open(dir_ + "/base.raw", true, false);
  ASSERT_FALSE(exists.ok());
  EXPECT_EQ(exists.error().kind, ErrorKind::kUsage);
  // The same through a referenced name (an output named by an image).
  ReferenceRequest r;
  r.directory = dir_;
  r.name = "base.raw";
  auto named = OpenReferencedStore(r, true, false, nullptr);
  ASSERT_FALSE(named.ok());
  EXPECT_EQ(named.error().kind, ErrorKind::kUsage);
  EXPECT_NE(named.error().message.find("exists"), std::string::npos);
  // An output that is not one of the inputs opens.
  const std::set<FileId> inputs = {FileId{1, 1}};
  r.name = "fresh.raw";
  EXPECT_TRUE(OpenReferencedStore(r, true, false, &inputs).ok());
  EXPECT_TRUE(FileStore::Open(dir_ + "/fresh2.raw", true, false, &inputs).ok());
}

// With standard input closed, the next file opened gets descriptor 0: a
// valid descriptor, for a plain open and for a referenced (beneath) one.
TEST_F(ReferencedFileTest, OpensAsDescriptorZero) {
  ::close(0);
  {
    auto plain = FileSource::Open(dir_ + "/base.raw");
    ASSERT_TRUE(plain.ok()) << plain.error().ToString();
    uint8_t buf[4];
    ASSERT_TRUE((*plain)->ReadAt(0, buf, 4).ok());
    EXPECT_EQ(std::string(buf, buf + 4), "data");
  }
  {
    auto named = Open("sub/inner.raw");
    ASSERT_TRUE(named.ok()) << named.error().ToString();
    uint8_t buf[4];
    ASSERT_TRUE((*named)->ReadAt(0, buf, 4).ok());
    EXPECT_EQ(std::string(buf, buf + 4), "data");
  }
  EXPECT_EQ(::open("/dev/null", O_RDONLY), 0);  // Standard input again.
}

}  // namespace
}  // namespace qcow2ref
