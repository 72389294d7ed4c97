// Reading a --secret-file: only a regular file that can be read in full
// (QX.ENC.secret_file). A directory, device, FIFO or read error is a usage
// error, never an empty or partial passphrase.
#ifndef QCOW2REF_TOOLS_QCOW2REF_SECRET_FILE_H_
#define QCOW2REF_TOOLS_QCOW2REF_SECRET_FILE_H_

#include <string>

#include "reference/crypto/secret.h"
#include "reference/status/status.h"

namespace qcow2ref::cli {

// The file's exact bytes (QX.ENC.secret_bytes), at most 64 KiB.
Result<SecretBytes> ReadSecretFile(const std::string& path);

}  // namespace qcow2ref::cli

#endif  // QCOW2REF_TOOLS_QCOW2REF_SECRET_FILE_H_
