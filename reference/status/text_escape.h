// Names read from an image or given on the command line are bytes. These
// helpers turn them into text that is safe to print: for a terminal (control
// characters and invalid UTF-8 as \xHH), for JSON (valid UTF-8, reversible)
// and for XML 1.0 (only characters XML allows). None of them fails.
#ifndef QCOW2REF_REFERENCE_STATUS_TEXT_ESCAPE_H_
#define QCOW2REF_REFERENCE_STATUS_TEXT_ESCAPE_H_

#include <string>
#include <string_view>

namespace qcow2ref {

// True when `s` is well-formed UTF-8 (no overlong forms, no surrogates,
// nothing above U+10FFFF), the rule JSON libraries enforce.
bool IsValidUtf8(std::string_view s);

// For human output and the one-line error: C0 controls (NUL, newline, ...),
// DEL, C1 controls (U+0080..U+009F), U+FFFE/U+FFFF and every byte that is not
// part of valid UTF-8 become "\xHH" (one per byte); a backslash becomes "\\".
// Everything else is kept. The result is valid UTF-8 on one line.
std::string EscapeForTerminal(std::string_view s);

// For JSON strings: valid UTF-8 is returned unchanged (*escaped = false).
// Otherwise every byte that is not part of valid UTF-8 becomes "\xHH" and
// every backslash "\\" (*escaped = true), so the original bytes can be
// recovered exactly.
std::string EscapeInvalidUtf8(std::string_view s, bool* escaped);

// For XML 1.0 text and attribute values: EscapeForTerminal, then & < > " '
// as entities. The result contains only characters XML 1.0 allows.
std::string EscapeForXml(std::string_view s);

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_STATUS_TEXT_ESCAPE_H_
