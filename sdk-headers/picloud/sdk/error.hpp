// Errors are values, never exceptions: nothing is thrown across the plugin
// boundary in either direction.
#pragma once

#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace picloud::sdk {

enum class ErrorKind {
  not_found,         // the thing does not exist (or belongs to another app)
  invalid_argument,  // the caller passed something wrong
  forbidden,         // the caller may not do this
  conflict,          // the state does not allow it (duplicate, version mismatch)
  unavailable,       // a dependency is down or overloaded; may succeed later
  internal,          // a bug or an unexpected failure
};

inline std::string_view to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::not_found: return "not_found";
    case ErrorKind::invalid_argument: return "invalid_argument";
    case ErrorKind::forbidden: return "forbidden";
    case ErrorKind::conflict: return "conflict";
    case ErrorKind::unavailable: return "unavailable";
    case ErrorKind::internal: return "internal";
  }
  return "internal";
}

// `kind` is the class that decides the HTTP status and the script's error
// kind; `code` optionally says precisely what happened, in snake_case
// (`not_configured`, `corrupted`, `blocked`, ...): an open set, so a plugin
// can name its own cases without a new kind.
struct Error {
  ErrorKind kind = ErrorKind::internal;
  std::string message;
  std::string code = {};
};

// A value or an Error. Small on purpose (std::expected is C++23).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}
  // Anything T can be made from: `return 42;` in a function returning
  // Result<Value>.
  template <typename U, typename = std::enable_if_t<!std::is_same_v<std::decay_t<U>, T> &&
                                                    !std::is_same_v<std::decay_t<U>, Error> &&
                                                    !std::is_same_v<std::decay_t<U>, Result> &&
                                                    std::is_constructible_v<T, U&&>>>
  Result(U&& value) : state_(std::in_place_index<0>, T(std::forward<U>(value))) {}
  Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { return std::get<1>(state_); }

 private:
  std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

inline Error make_error(ErrorKind kind, std::string message) { return Error{kind, std::move(message)}; }
inline Error make_error(ErrorKind kind, std::string code, std::string message) {
  return Error{kind, std::move(message), std::move(code)};
}

}  // namespace picloud::sdk
