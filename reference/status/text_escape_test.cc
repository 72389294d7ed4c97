#include "reference/status/text_escape.h"

#include <gtest/gtest.h>

#include <string>

#include "reference/status/spec_cite.h"

namespace qcow2ref {
namespace {

using std::string_literals::operator""s;

TEST(TextEscapeTest, Utf8Validity) {
  QCOW2_SPEC("QX.CLI.json_bytes");
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_TRUE(IsValidUtf8("nul\0inside"s));
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("\xc3"));              // Truncated.
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // Overlong '/'.
  EXPECT_FALSE(IsValidUtf8("\xe0\x80\xaf"));      // Overlong.
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // Surrogate U+D800.
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // Above U+10FFFF.
  EXPECT_FALSE(IsValidUtf8("\x80"));              // Lone continuation.
  // The edges of RFC 3629's table, valid side: U+0800 (E0 A0 80), U+00FF
  // (continuation byte BF), U+D7FF (ED 9F BF), U+FFFF, U+10000, U+10FFFF.
  EXPECT_TRUE(IsValidUtf8("\xe0\xa0\x80"));
  EXPECT_TRUE(IsValidUtf8("\xc3\xbf"));
  EXPECT_TRUE(IsValidUtf8("\xed\x9f\xbf"));
  EXPECT_TRUE(IsValidUtf8("\xef\xbf\xbf"));
  EXPECT_TRUE(IsValidUtf8("\xf0\x90\x80\x80"));
  EXPECT_TRUE(IsValidUtf8("\xf4\x8f\xbf\xbf"));
  // ... and the invalid side: C1, F5, a continuation byte C0.
  EXPECT_FALSE(IsValidUtf8("\xc1\xbf"));
  EXPECT_FALSE(IsValidUtf8("\xf5\x80\x80\x80"));
  EXPECT_FALSE(IsValidUtf8("\xc3\xc0"));
}

TEST(TextEscapeTest, TerminalEscapesControlsAndInvalidBytes) {
  QCOW2_SPEC("QX.CLI.control_escape");
  EXPECT_EQ(EscapeForTerminal("disk.qcow2"), "disk.qcow2");
  EXPECT_EQ(EscapeForTerminal("a\0b"s), "a\\x00b");
  EXPECT_EQ(EscapeForTerminal("l1\nl2\r\x1b[31m\x7f"),
            "l1\\x0al2\\x0d\\x1b[31m\\x7f");
  EXPECT_EQ(EscapeForTerminal("\x01\xff"), "\\x01\\xff");
  EXPECT_EQ(EscapeForTerminal("C1 \xc2\x9b"), "C1 \\xc2\\x9b");
  EXPECT_EQ(EscapeForTerminal("back\\slash"), "back\\\\slash");
  EXPECT_EQ(EscapeForTerminal("caf\xc3\xa9"), "caf\xc3\xa9");
  const std::string out = EscapeForTerminal("\xed\xa0\x80\xef\xbf\xbf");
  EXPECT_EQ(out, "\\xed\\xa0\\x80\\xef\\xbf\\xbf");
  EXPECT_TRUE(IsValidUtf8(out));
}

TEST(TextEscapeTest, JsonEscapeIsReversible) {
  QCOW2_SPEC("QX.CLI.json_bytes");
  bool escaped = true;
  EXPECT_EQ(EscapeInvalidUtf8("caf\xc3\xa9\\x", &escaped),
            "caf\xc3\xa9\\x");  // Valid: unchanged, backslash kept.
  EXPECT_FALSE(escaped);
  const std::string raw = "a\\xff\xff\xc3\xa9\x01";
  const std::string out = EscapeInvalidUtf8(raw, &escaped);
  EXPECT_TRUE(escaped);
  EXPECT_EQ(out, "a\\\\xff\\xff\xc3\xa9\x01");
  EXPECT_TRUE(IsValidUtf8(out));
  // Decoding: "\\" is a backslash, "\xHH" one byte.
  std::string back;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == '\\' && out[i + 1] == '\\') {
      back += '\\';
      ++i;
    } else if (out[i] == '\\' && out[i + 1] == 'x') {
      back += static_cast<char>(std::stoi(out.substr(i + 2, 2), nullptr, 16));
      i += 3;
    } else {
      back += out[i];
    }
  }
  EXPECT_EQ(back, raw);
}

TEST(TextEscapeTest, XmlHasOnlyAllowedCharacters) {
  QCOW2_SPEC("QX.CLI.svg_well_formed");
  EXPECT_EQ(EscapeForXml("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
  EXPECT_EQ(EscapeForXml("p\x01\xff\0"s), "p\\x01\\xff\\x00");
  EXPECT_EQ(EscapeForXml("\xef\xbf\xbe"), "\\xef\\xbf\\xbe");  // U+FFFE.
}

}  // namespace
}  // namespace qcow2ref
