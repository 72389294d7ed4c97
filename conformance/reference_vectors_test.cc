// Runs the reference library over every image vector: y_ must read to the
// guest sha256 that qemu-img produced, n_ must be rejected with its primary
// clause, i_ must either be rejected or read exactly as `if_accepted` says.
#include <gtest/gtest.h>

#include <map>

#include "conformance/vector_manifest.h"
#include "reference/image/guest_map.h"
#include "reference/image/image.h"
#include "reference/status/spec_cite.h"

namespace qcow2ref::conformance {
namespace {

// Whole-disk reads are done for views up to this size; larger (sparse)
// vectors are checked through their map and `reads` slices.
constexpr uint64_t kMaxWholeRead = 256ull << 20;

// Opens the image (following references) and reads the whole view; an empty
// result means the view is too large to read whole.
Result<std::vector<uint8_t>> ReadAll(const std::string& path,
                                     const std::string& snapshot = "",
                                     const SecretBytes* secret = nullptr) {
  OpenOptions options;
  options.follow_references = true;
  QCOW2REF_ASSIGN_OR_RETURN(auto img, Image::Open(path, options, secret));
  if (!snapshot.empty()) {
    QCOW2REF_RETURN_IF_ERROR(img->SelectSnapshot(snapshot));
  }
  if (img->guest_size() > kMaxWholeRead) return std::vector<uint8_t>();
  std::vector<uint8_t> buf(img->guest_size());
  QCOW2REF_RETURN_IF_ERROR(img->Read(0, buf.data(), buf.size()));
  return buf;
}

// Reads the active view and then every snapshot's view; the first error.
Status ReadEveryView(const std::string& path, const SecretBytes* secret) {
  QCOW2REF_RETURN_IF_ERROR(ReadAll(path, "", secret));
  OpenOptions options;
  options.follow_references = true;
  QCOW2REF_ASSIGN_OR_RETURN(auto img, Image::Open(path, options, secret));
  for (const Snapshot& s : img->snapshots()) {
    QCOW2REF_RETURN_IF_ERROR(ReadAll(path, s.id, secret));
  }
  return OkStatus();
}

// Slices given as {offset, length, sha256}.
void ExpectReads(const std::string& path, const nlohmann::json& reads,
                 const std::string& id, const SecretBytes* secret) {
  OpenOptions options;
  options.follow_references = true;
  auto img = Image::Open(path, options, secret);
  ASSERT_TRUE(img.ok()) << img.error().ToString();
  for (const auto& r : reads) {
    std::vector<uint8_t> buf(r.at("length").get<uint64_t>());
    Status st =
        (*img)->Read(r.at("offset").get<uint64_t>(), buf.data(), buf.size());
    ASSERT_TRUE(st.ok()) << id << ": " << st.error().ToString();
    EXPECT_EQ(Sha256Hex(buf.data(), buf.size()),
              r.at("sha256").get<std::string>())
        << id << " slice at " << r.at("offset");
  }
}

// Compares our map with qemu-img's over every byte. qemu refines data ranges
// by host-file holes (zero: true inside data), which is file-system state,
// not qcow2 state, so `zero` is compared only where there is no data.
void ExpectSameMap(const std::vector<MapEntry>& ours,
                   const nlohmann::json& qemu, const std::string& id) {
  struct Seg {
    uint64_t start, end;
    int depth;
    bool present, zero, data;
    bool has_offset;
    int64_t delta;
  };
  std::vector<Seg> q;
  for (const auto& e : qemu) {
    Seg s{e.at("start").get<uint64_t>(), 0,
          e.at("depth").get<int>(),      e.at("present").get<bool>(),
          e.at("zero").get<bool>(),      e.at("data").get<bool>(),
          e.contains("offset"),          0};
    s.end = s.start + e.at("length").get<uint64_t>();
    if (s.has_offset) {
      s.delta = static_cast<int64_t>(e.at("offset").get<uint64_t>() - s.start);
    }
    q.push_back(s);
  }
  size_t qi = 0;
  for (const MapEntry& m : ours) {
    for (uint64_t pos = m.start; pos < m.start + m.length;) {
      while (qi < q.size() && q[qi].end <= pos) ++qi;
      ASSERT_LT(qi, q.size()) << id << ": our map extends past qemu's";
      const Seg& s = q[qi];
      const uint64_t end = std::min(m.start + m.length, s.end);
      EXPECT_EQ(m.depth, s.depth) << id << " at " << pos;
      EXPECT_EQ(m.present, s.present) << id << " at " << pos;
      EXPECT_EQ(m.data, s.data) << id << " at " << pos;
      if (!m.data) {
        EXPECT_EQ(m.zero, s.zero) << id << " at " << pos;
      }
      EXPECT_EQ(m.offset.has_value(), s.has_offset) << id << " at " << pos;
      if (m.offset && s.has_offset) {
        EXPECT_EQ(static_cast<int64_t>(*m.offset - m.start), s.delta)
            << id << " at " << pos;
      }
      pos = end;
    }
  }
}

class ReferenceVectorsTest : public ::testing::TestWithParam<ImageVector> {};

TEST_P(ReferenceVectorsTest, Verdict) {
  ImageVector v = GetParam();
  for (const std::string& c : v.clauses) QCOW2_SPEC(c.c_str());
  v.image =
      StageVector(v, std::string(std::getenv("TEST_TMPDIR")) + "/" + v.id);
  std::unique_ptr<SecretBytes> secret;
  if (!v.passphrases.empty()) {
    secret = std::make_unique<SecretBytes>(SecretFromString(v.passphrases[0]));
  }
  if (v.verdict == "invalid" && v.expect.at("stage") == "check") {
    // A fault only a checker reports (reference_check_test): this reader
    // reads such images, and must return what qemu-img reads.
    auto data = ReadAll(v.image, "", secret.get());
    ASSERT_TRUE(data.ok()) << v.id << ": " << data.error().ToString();
    EXPECT_TRUE(ReadEveryView(v.image, secret.get()).ok()) << v.id;
    ASSERT_TRUE(v.expect.contains("readable")) << v.id;
    EXPECT_EQ(Sha256Hex(data->data(), data->size()),
              v.expect.at("readable").at("guest_sha256").get<std::string>())
        << v.id;
    return;
  }
  if (v.verdict == "invalid") {
    Status st = ReadEveryView(v.image, secret.get());
    ASSERT_FALSE(st.ok()) << v.id << ": accepted an invalid image";
    EXPECT_EQ(st.error().clause, v.clauses.at(0))
        << v.id << ": rejected for another reason: " << st.error().ToString();
    return;
  }
  auto data = ReadAll(v.image, "", secret.get());
  if (v.verdict == "valid") {
    ASSERT_TRUE(data.ok()) << v.id << ": " << data.error().ToString();
    const auto& e = v.expect;
    const uint64_t size = e.at("virtual_size").get<uint64_t>();
    if (size <= kMaxWholeRead) {
      EXPECT_EQ(data->size(), size) << v.id;
      EXPECT_EQ(Sha256Hex(data->data(), data->size()),
                e.at("guest_sha256").get<std::string>())
          << v.id;
    } else {
      ASSERT_TRUE(e.contains("map") || e.contains("reads"))
          << v.id << ": a large vector needs a map or reads to check";
    }
    if (e.contains("reads")) {
      ExpectReads(v.image, e.at("reads"), v.id, secret.get());
    }
    // Every other key slot's passphrase reads the same content.
    for (size_t i = 1; i < v.passphrases.size(); ++i) {
      SecretBytes other = SecretFromString(v.passphrases[i]);
      auto again = ReadAll(v.image, "", &other);
      ASSERT_TRUE(again.ok())
          << v.id << " passphrase #" << i << ": " << again.error().ToString();
      EXPECT_EQ(*again, *data) << v.id << " passphrase #" << i;
    }
    if (e.contains("map")) {
      OpenOptions options;
      options.follow_references = true;
      auto img = Image::Open(v.image, options, secret.get());
      ASSERT_TRUE(img.ok());
      auto map = MapGuest(**img);
      ASSERT_TRUE(map.ok()) << map.error().ToString();
      ExpectSameMap(*map, e.at("map"), v.id);
    }
    if (e.contains("snapshots")) {
      for (const auto& s : e.at("snapshots")) {
        auto snap =
            ReadAll(v.image, s.at("name").get<std::string>(), secret.get());
        ASSERT_TRUE(snap.ok()) << v.id << ": " << snap.error().ToString();
        EXPECT_EQ(Sha256Hex(snap->data(), snap->size()),
                  s.at("guest_sha256").get<std::string>())
            << v.id << " snapshot " << s.at("name");
      }
    }
    return;
  }
  // acceptable: rejection must name one of the listed clauses; acceptance
  // must produce exactly the if_accepted content.
  if (!data.ok()) {
    bool listed = false;
    for (const std::string& c : v.clauses) listed |= c == data.error().clause;
    EXPECT_TRUE(listed) << v.id << ": rejected with an unlisted clause: "
                        << data.error().ToString();
    return;
  }
  ASSERT_TRUE(v.expect.contains("if_accepted"))
      << v.id << ": accepted, but the vector gives no content to compare";
  const auto& a = v.expect.at("if_accepted");
  EXPECT_EQ(Sha256Hex(data->data(), data->size()),
            a.at("guest_sha256").get<std::string>())
      << v.id;
}

std::string TestName(const ::testing::TestParamInfo<ImageVector>& info) {
  return info.param.id;
}

INSTANTIATE_TEST_SUITE_P(Vectors, ReferenceVectorsTest,
                         ::testing::ValuesIn(LoadImageVectors(".")), TestName);

TEST(ReferenceVectorsMetaTest, ManifestsAreFound) {
  // Guards against a suite that silently runs zero vectors.
  EXPECT_GE(LoadImageVectors(".").size(), 60u);
}

}  // namespace
}  // namespace qcow2ref::conformance
