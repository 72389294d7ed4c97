// Test roles: reader, writer, checker
#include "tools/qcow2ref/last_resort.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "reference/status/spec_cite.h"
#include "tools/qcow2ref/cli.h"
#include "tools/qcow2ref/json_text.h"

namespace qcow2ref::cli {
namespace {

int Returns7(int, char**) { return 7; }
int ThrowsStd(int, char**) { throw std::runtime_error("boom\nline"); }
int ThrowsInt(int, char**) { throw 42; }
// What nlohmann::json does with invalid UTF-8 (type_error 316).
int DumpsInvalidUtf8(int, char**) {
  nlohmann::ordered_json j;
  j["name"] = std::string("\xff");
  return static_cast<int>(j.dump().size());
}

TEST(LastResortTest, PassesTheExitCodeThrough) {
  QCOW2_SPEC("QX.CLI.internal");
  EXPECT_EQ(RunGuarded(Returns7, 0, nullptr), 7);
}

TEST(LastResortTest, ExceptionBecomesOneLineError) {
  QCOW2_SPEC("QX.CLI.internal");
  QCOW2_SPEC("QX.CLI.one_line_error");
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(RunGuarded(ThrowsStd, 0, nullptr), kExitRejected);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(),
            "qcow2ref: QX.CLI.internal: internal error: boom\\x0aline\n");
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(RunGuarded(ThrowsInt, 0, nullptr), kExitRejected);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(),
            "qcow2ref: QX.CLI.internal: internal error: unknown exception\n");
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(RunGuarded(DumpsInvalidUtf8, 0, nullptr), kExitRejected);
  EXPECT_NE(::testing::internal::GetCapturedStderr().find("QX.CLI.internal"),
            std::string::npos);
}

TEST(JsonTextTest, InvalidUtf8IsEscapedAndFlagged) {
  QCOW2_SPEC("QX.CLI.json_bytes");
  nlohmann::ordered_json j;
  j["name"] = std::string("a\\b\xff");
  j["ok"] = "caf\xc3\xa9";
  j["list"] = {std::string("\xfe"), 1};
  j["nested"]["uuid"] = std::string("\x80z");
  const std::string out = DumpJson(j);
  EXPECT_EQ(out,
            "{\"name\":\"a\\\\\\\\b\\\\xff\",\"name-escaped\":true,"
            "\"ok\":\"caf\xc3\xa9\",\"list\":[\"\\\\xfe\",1],"
            "\"nested\":{\"uuid\":\"\\\\x80z\",\"uuid-escaped\":true}}");
  const auto back = nlohmann::ordered_json::parse(out);
  EXPECT_EQ(back["name"], "a\\\\b\\xff");
  EXPECT_EQ(DumpJson(std::string("\x01"), -1, true), "\"\\u0001\"");
}

}  // namespace
}  // namespace qcow2ref::cli
