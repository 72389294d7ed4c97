// Shared pieces of the qcow2ref subcommands: argument parsing, exit codes and
// the one-line error format (QX.CLI.one_line_error).
#ifndef QCOW2REF_TOOLS_QCOW2REF_CLI_H_
#define QCOW2REF_TOOLS_QCOW2REF_CLI_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "reference/crypto/secret.h"
#include "reference/status/status.h"

namespace qcow2ref::cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitRejected = 1,
  kExitUnsupported = 2,
  kExitUsage = 3,
};

// Parsed command line of one subcommand: positionals, --flags and
// --options with a value.
struct Args {
  std::vector<std::string> positional;
  std::set<std::string> flags;
  std::map<std::string, std::string> options;

  bool Has(const std::string& flag) const { return flags.count(flag) > 0; }
  std::optional<std::string> Get(const std::string& name) const;
};

// Parses argv[first..]: `flag_names` take no value, `option_names` take one.
// Unknown names are usage errors.
Result<Args> ParseArgs(int argc, char** argv, int first,
                       const std::set<std::string>& flag_names,
                       const std::set<std::string>& option_names);

// Parses a non-negative decimal or 0x-hex integer, with optional K/M/G/T
// suffix (powers of 1024).
Result<uint64_t> ParseSize(const std::string& text, const char* what);

// The options every image-opening command takes.
inline const std::set<std::string> kSecretOptions = {"--secret-file",
                                                     "--secret-env"};

// Loads the passphrase from --secret-file (the file's exact bytes) or
// --secret-env (the variable's exact value); nullopt when neither is given
// (QX.ENC.secret_bytes, QX.ENC.secret_hygiene: never from argv).
Result<std::optional<SecretBytes>> LoadSecret(const Args& args);

// Prints "qcow2ref: <clause>: <message> (at byte N)" to stderr and returns
// the exit code for the error's kind.
int ReportError(const Error& error);

// Prints a usage line to stderr and returns kExitUsage.
int UsageFailure(const std::string& message);

}  // namespace qcow2ref::cli

#endif  // QCOW2REF_TOOLS_QCOW2REF_CLI_H_
