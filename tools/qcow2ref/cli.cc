#include "tools/qcow2ref/cli.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "reference/status/text_escape.h"
#include "tools/qcow2ref/secret_file.h"

namespace qcow2ref::cli {

std::optional<std::string> Args::Get(const std::string& name) const {
  auto it = options.find(name);
  if (it == options.end()) return std::nullopt;
  return it->second;
}

Result<Args> ParseArgs(int argc, char** argv, int first,
                       const std::set<std::string>& flag_names,
                       const std::set<std::string>& option_names) {
  Args args;
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0 || a == "--") {
      args.positional.push_back(a);
      continue;
    }
    std::string value;
    const size_t eq = a.find('=');
    const bool inline_value = eq != std::string::npos;
    if (inline_value) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
    }
    if (flag_names.count(a)) {
      if (inline_value) return UsageError(a + " takes no value");
      args.flags.insert(a);
    } else if (option_names.count(a)) {
      if (!inline_value) {
        if (i + 1 >= argc) return UsageError(a + " needs a value");
        value = argv[++i];
      }
      args.options[a] = value;
    } else {
      return UsageError("unknown option " + a);
    }
  }
  return args;
}

Result<uint64_t> ParseSize(const std::string& text, const char* what) {
  if (text.empty()) return UsageError(std::string(what) + " is empty");
  size_t pos = 0;
  unsigned long long v = 0;
  try {
    v = std::stoull(text, &pos, 0);
  } catch (...) {
    return UsageError(std::string(what) + " is not a number: " + text);
  }
  if (text[0] == '-') {
    return UsageError(std::string(what) + " must not be negative");
  }
  uint64_t mult = 1;
  if (pos < text.size()) {
    const std::string suffix = text.substr(pos);
    if (suffix == "K" || suffix == "k")
      mult = 1ull << 10;
    else if (suffix == "M")
      mult = 1ull << 20;
    else if (suffix == "G")
      mult = 1ull << 30;
    else if (suffix == "T")
      mult = 1ull << 40;
    else
      return UsageError(std::string(what) + " has a bad suffix: " + text);
  }
  uint64_t out;
  if (__builtin_mul_overflow(static_cast<uint64_t>(v), mult, &out)) {
    return UsageError(std::string(what) + " is too large: " + text);
  }
  return out;
}

Result<std::optional<SecretBytes>> LoadSecret(const Args& args) {
  const auto file = args.Get("--secret-file");
  const auto env = args.Get("--secret-env");
  if (file && env) {
    return UsageError("give --secret-file or --secret-env, not both");
  }
  // SPEC(QX.ENC.secret_hygiene): only from a file or the environment, kept
  // in a wiping SecByteBlock, never printed.
  // SPEC(QX.ENC.secret_bytes): exact bytes, no newline stripping.
  if (file) {
    QCOW2REF_ASSIGN_OR_RETURN(SecretBytes secret, ReadSecretFile(*file));
    return std::optional<SecretBytes>(std::move(secret));
  }
  if (env) {
    const char* value = std::getenv(env->c_str());
    if (value == nullptr) {
      return UsageError("environment variable " + *env + " is not set");
    }
    return std::optional<SecretBytes>(SecretFromString(value));
  }
  return std::optional<SecretBytes>();
}

int ReportError(const Error& error) {
  // SPEC(QX.CLI.one_line_error)
  // SPEC(QX.CLI.control_escape): a NUL, newline or escape sequence in a
  // name can neither cut the line nor reach the terminal.
  const std::string line = EscapeForTerminal(error.ToString());
  std::fprintf(stderr, "qcow2ref: %s\n", line.c_str());
  switch (error.kind) {
    case ErrorKind::kRejected:
    case ErrorKind::kIo:
      return kExitRejected;
    case ErrorKind::kUnsupported:
      return kExitUnsupported;
    case ErrorKind::kUsage:
      return kExitUsage;
  }
  return kExitRejected;
}

int UsageFailure(const std::string& message) {
  std::fprintf(stderr, "qcow2ref: usage: %s\n",
               EscapeForTerminal(message).c_str());
  return kExitUsage;
}

}  // namespace qcow2ref::cli
