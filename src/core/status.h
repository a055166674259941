// Errors as values: every fallible internal function returns a Status or a
// Result<T>. The C API turns these into dsv32_status codes and a message.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace dsv32 {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // the caller passed something wrong
  kNotFound,         // a file or tensor that should exist does not
  kIoError,          // the operating system refused a read, write or map
  kFormatError,      // a file exists but its content is malformed
  kUnsupported,      // well-formed, but a value this library does not handle
  kOutOfRange,       // a token id, position or index past its limit
  kOutOfMemory,      // an allocation or a memory budget was exceeded
  kCancelled,
  kInternal,
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message)
      : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Prefixes the message with where the failure happened ("layer 3: ...").
  Status WithContext(const std::string& context) const {
    if (ok()) return *this;
    return Status(code_, context + ": " + message_);
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
inline Status FormatError(std::string m) {
  return {StatusCode::kFormatError, std::move(m)};
}
inline Status Unsupported(std::string m) {
  return {StatusCode::kUnsupported, std::move(m)};
}
inline Status OutOfRange(std::string m) { return {StatusCode::kOutOfRange, std::move(m)}; }
inline Status OutOfMemory(std::string m) {
  return {StatusCode::kOutOfMemory, std::move(m)};
}
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

// A value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Status status) : v_(std::move(status)) {}

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace dsv32

#define DSV32_CONCAT_INNER(a, b) a##b
#define DSV32_CONCAT(a, b) DSV32_CONCAT_INNER(a, b)

#define DSV32_RETURN_IF_ERROR(expr)              \
  do {                                           \
    ::dsv32::Status dsv32_status_ = (expr);      \
    if (!dsv32_status_.ok()) return dsv32_status_; \
  } while (0)

#define DSV32_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()

#define DSV32_ASSIGN_OR_RETURN(lhs, expr) \
  DSV32_ASSIGN_OR_RETURN_IMPL(DSV32_CONCAT(dsv32_result_, __LINE__), lhs, expr)
