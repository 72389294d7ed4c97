// One function per subcommand; each returns the process exit code.
#ifndef QCOW2REF_TOOLS_QCOW2REF_COMMANDS_H_
#define QCOW2REF_TOOLS_QCOW2REF_COMMANDS_H_

#include <string>

#include "reference/check/checker.h"
#include "tools/qcow2ref/cli.h"

namespace qcow2ref::cli {

// Runs the checker on `path` with the secret options of `args`.
Result<CheckResult> RunChecker(const std::string& path, const Args& args);

int RunInfo(int argc, char** argv);
int RunCreate(int argc, char** argv);
int RunWrite(int argc, char** argv);
int RunZero(int argc, char** argv);
int RunDiscard(int argc, char** argv);
int RunConvert(int argc, char** argv);
int RunSnapshot(int argc, char** argv);
int RunBitmap(int argc, char** argv);
int RunCheck(int argc, char** argv);
int RunLayout(int argc, char** argv);
int RunLuksDump(int argc, char** argv);
int RunLuksKeys(int argc, char** argv);
int RunMap(int argc, char** argv);
int RunRead(int argc, char** argv);

}  // namespace qcow2ref::cli

#endif  // QCOW2REF_TOOLS_QCOW2REF_COMMANDS_H_
