#include "reference/status/text_escape.h"

#include <cstdint>

namespace qcow2ref {
namespace {

// Length of the well-formed UTF-8 sequence at s[i] (1..4) and its code point,
// or 0 when the byte at s[i] does not start one (Unicode table 3-7).
size_t DecodeAt(std::string_view s, size_t i, uint32_t* cp) {
  const auto b = [&](size_t k) { return static_cast<uint8_t>(s[i + k]); };
  const uint8_t c = b(0);
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  size_t n;
  uint8_t lo = 0x80, hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
    *cp = c & 0x1f;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    *cp = c & 0x0f;
    if (c == 0xe0) lo = 0xa0;  // No overlong forms.
    if (c == 0xed) hi = 0x9f;  // No surrogates.
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    *cp = c & 0x07;
    if (c == 0xf0) lo = 0x90;  // No overlong forms.
    if (c == 0xf4) hi = 0x8f;  // Nothing above U+10FFFF.
  } else {
    return 0;
  }
  if (s.size() - i < n) return 0;
  for (size_t k = 1; k < n; ++k) {
    const uint8_t t = b(k);
    const uint8_t min = k == 1 ? lo : 0x80;
    const uint8_t max = k == 1 ? hi : 0xbf;
    if (t < min || t > max) return 0;
    *cp = (*cp << 6) | (t & 0x3f);
  }
  return n;
}

void AppendHexByte(uint8_t byte, std::string* out) {
  static const char kHex[] = "0123456789abcdef";
  *out += "\\x";
  *out += kHex[byte >> 4];
  *out += kHex[byte & 0x0f];
}

bool ShownAsHex(uint32_t cp) {
  return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0xfffe ||
         cp == 0xffff;
}

}  // namespace

bool IsValidUtf8(std::string_view s) {
  uint32_t cp;
  for (size_t i = 0; i < s.size();) {
    const size_t n = DecodeAt(s, i, &cp);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string EscapeForTerminal(std::string_view s) {
  // SPEC(QX.CLI.control_escape)
  std::string out;
  out.reserve(s.size());
  uint32_t cp;
  for (size_t i = 0; i < s.size();) {
    const size_t n = DecodeAt(s, i, &cp);
    if (n == 0 || ShownAsHex(cp)) {
      for (size_t k = 0; k < (n == 0 ? 1 : n); ++k) {
        AppendHexByte(static_cast<uint8_t>(s[i + k]), &out);
      }
      i += n == 0 ? 1 : n;
      continue;
    }
    if (cp == '\\') {
      out += "\\\\";
    } else {
      out.append(s.substr(i, n));
    }
    i += n;
  }
  return out;
}

std::string EscapeInvalidUtf8(std::string_view s, bool* escaped) {
  // SPEC(QX.CLI.json_bytes)
  *escaped = !IsValidUtf8(s);
  if (!*escaped) return std::string(s);
  std::string out;
  out.reserve(s.size() + 8);
  uint32_t cp;
  for (size_t i = 0; i < s.size();) {
    const size_t n = DecodeAt(s, i, &cp);
    if (n == 0) {
      AppendHexByte(static_cast<uint8_t>(s[i]), &out);
      ++i;
      continue;
    }
    if (cp == '\\') {
      out += "\\\\";
    } else {
      out.append(s.substr(i, n));
    }
    i += n;
  }
  return out;
}

std::string EscapeForXml(std::string_view s) {
  // SPEC(QX.CLI.svg_well_formed): after EscapeForTerminal only characters
  // XML 1.0 allows remain; the five markup characters become entities.
  std::string out;
  for (char c : EscapeForTerminal(s)) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace qcow2ref
