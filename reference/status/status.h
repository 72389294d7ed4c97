// Errors as values: every rejection carries the spec clause it enforces, the
// byte offset in the file where the fault was found and a one-line message.
#ifndef QCOW2REF_REFERENCE_STATUS_STATUS_H_
#define QCOW2REF_REFERENCE_STATUS_STATUS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace qcow2ref {

enum class ErrorKind {
  kRejected,     // The input breaks a clause: malformed, or refused by policy.
  kUnsupported,  // A valid feature this implementation does not provide.
  kIo,           // The host file system failed (open, read, write).
  kUsage,        // The caller asked for something impossible (bad range, ...).
};

struct Error {
  ErrorKind kind = ErrorKind::kRejected;
  std::string clause;              // Spec clause id, e.g. "Q2.HDR.magic".
  std::optional<uint64_t> offset;  // Byte offset of the fault, if known.
  std::string message;

  // "<clause>: <message> (at byte <offset>)".
  std::string ToString() const;
};

Error Rejected(std::string clause, std::optional<uint64_t> offset,
               std::string message);
Error Unsupported(std::string clause, std::optional<uint64_t> offset,
                  std::string message);
Error IoError(std::string message);
Error UsageError(std::string message);
// A caller error that breaks the rule `clause` (a bad option, a refused
// combination).
Error UsageError(std::string clause, std::string message);
// Encrypted data was asked for without a passphrase; `clause` is the rule
// that needs it.
Error MissingSecretError(std::string clause);

// Result<T>: a value or an Error. Result<void> carries only the error.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const Error& error() const { return std::get<1>(v_); }
  Error&& take_error() { return std::get<1>(std::move(v_)); }

  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}  // NOLINT

  bool ok() const { return !error_.has_value(); }
  const Error& error() const { return *error_; }
  Error&& take_error() { return std::move(*error_); }

 private:
  std::optional<Error> error_;
};

using Status = Result<void>;

inline Status OkStatus() { return Status(); }

}  // namespace qcow2ref

#define QCOW2REF_CONCAT_INNER_(a, b) a##b
#define QCOW2REF_CONCAT_(a, b) QCOW2REF_CONCAT_INNER_(a, b)

// Returns the error of `expr` (a Result) from the enclosing function.
#define QCOW2REF_RETURN_IF_ERROR(expr)                                \
  do {                                                                \
    auto qcow2ref_status_ = (expr);                                   \
    if (!qcow2ref_status_.ok()) return qcow2ref_status_.take_error(); \
  } while (0)

#define QCOW2REF_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                    \
  if (!tmp.ok()) return tmp.take_error();               \
  lhs = std::move(tmp).value()

// `QCOW2REF_ASSIGN_OR_RETURN(auto x, F());` binds the value or returns the
// error.
#define QCOW2REF_ASSIGN_OR_RETURN(lhs, expr) \
  QCOW2REF_ASSIGN_OR_RETURN_IMPL_(           \
      QCOW2REF_CONCAT_(qcow2ref_result_, __LINE__), lhs, expr)

#endif  // QCOW2REF_REFERENCE_STATUS_STATUS_H_
