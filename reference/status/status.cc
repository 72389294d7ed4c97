#include "reference/status/status.h"

namespace qcow2ref {

std::string Error::ToString() const {
  std::string out = clause.empty() ? std::string("error") : clause;
  out += ": ";
  out += message;
  if (offset.has_value()) {
    out += " (at byte " + std::to_string(*offset) + ")";
  }
  return out;
}

Error Rejected(std::string clause, std::optional<uint64_t> offset,
               std::string message) {
  return Error{ErrorKind::kRejected, std::move(clause), offset,
               std::move(message)};
}

Error Unsupported(std::string clause, std::optional<uint64_t> offset,
                  std::string message) {
  return Error{ErrorKind::kUnsupported, std::move(clause), offset,
               std::move(message)};
}

Error IoError(std::string message) {
  return Error{ErrorKind::kIo, "", std::nullopt, std::move(message)};
}

Error UsageError(std::string message) {
  return UsageError("", std::move(message));
}

Error UsageError(std::string clause, std::string message) {
  return Error{ErrorKind::kUsage, std::move(clause), std::nullopt,
               std::move(message)};
}

Error MissingSecretError(std::string clause) {
  return UsageError(std::move(clause),
                    "the image is encrypted: give its passphrase with "
                    "--secret-file or --secret-env");
}

}  // namespace qcow2ref
