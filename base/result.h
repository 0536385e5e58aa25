// Result<T> and Status: expected failures as values, in the manner of
// std::expected (C++23), which the toolchain here does not have yet.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <variant>

namespace dcos {

// An expected failure: one lowercase line, each layer prefixing its context.
struct Error {
  std::string message;
  int code = 0;  // a domain's own code (e.g. coord::Code), 0 when none

  // Returns the error with `context: ` put in front of the message.
  [[nodiscard]] Error wrap(const std::string &context) const { return Error{context + ": " + message, code}; }
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  // Aborts when called on an error: that is a bug in the caller.
  T &value() & { check(); return std::get<0>(v_); }
  const T &value() const & { check(); return std::get<0>(v_); }
  T &&value() && { check(); return std::get<0>(std::move(v_)); }
  T &operator*() & { return value(); }
  const T &operator*() const & { return value(); }
  T *operator->() { return &value(); }
  const T *operator->() const { return &value(); }

  const Error &error() const {
    if (ok()) {
      std::fputs("dcos: Result::error() called on a value\n", stderr);
      std::abort();
    }
    return std::get<1>(v_);
  }

 private:
  void check() const {
    if (!ok()) {
      std::fprintf(stderr, "dcos: Result::value() called on an error: %s\n", std::get<1>(v_).message.c_str());
      std::abort();
    }
  }
  std::variant<T, Error> v_;
};

// A Result without a value.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), failed_(true) {}  // NOLINT

  static Status Ok() { return Status(); }
  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error &error() const {
    if (!failed_) {
      std::fputs("dcos: Status::error() called on success\n", stderr);
      std::abort();
    }
    return error_;
  }

 private:
  Error error_;
  bool failed_ = false;
};

inline Error makeError(std::string message, int code = 0) { return Error{std::move(message), code}; }

}  // namespace dcos
