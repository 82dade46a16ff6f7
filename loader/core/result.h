// Errors as values: every fallible loader call returns Result<T>, carrying
// the errno and a one-line message that names the cause and, where known,
// the fix. Nothing in the loader throws across its API.
#pragma once

#include <cerrno>
#include <string>
#include <utility>
#include <variant>

namespace vpnpt {

struct Error {
  int err = 0;       // positive errno, 0 when not an OS error
  std::string what;  // "cause; fix"

  // what, followed by the errno text when there is one.
  std::string message() const;
};

inline Error make_error(std::string what, int err = 0) { return Error{err < 0 ? -err : err, std::move(what)}; }

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const T& value() const& { return std::get<0>(v_); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& operator*() { return value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), failed_(true) {}

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool failed_ = false;
};

using Status = Result<void>;

}  // namespace vpnpt

// Propagates a failed Result from the enclosing function.
#define VPNPT_TRY(expr)                             \
  do {                                              \
    auto vpnpt_try_r_ = (expr);                     \
    if (!vpnpt_try_r_) return vpnpt_try_r_.error(); \
  } while (0)
