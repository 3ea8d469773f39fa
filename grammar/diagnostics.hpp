// Diagnostics shared by every stage: a user error is a value with a source
// position; render() turns it into "error: LINE:COL: message", the line and a
// caret. The library never prints; the CLI and REPL call render().
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace actjit {

/// A user-facing error. `offset` is a byte offset into the source it was
/// found in (or npos when the error has no position, e.g. usage errors).
struct Diagnostic {
  static constexpr uint32_t npos = UINT32_MAX;
  uint32_t offset = npos;
  std::string message;
};

/// 1-based line and column (columns count characters, not bytes).
struct LineCol {
  uint32_t line = 1;
  uint32_t column = 1;
};

/// Line and column of a byte offset in `source`.
LineCol line_col(std::string_view source, uint32_t offset);

/// "LINE:COL: message" (the form the C ABI reports).
std::string format_short(std::string_view source, const Diagnostic& d);

/// "error: LINE:COL: message\n<source line>\n<caret>\n".
std::string render(std::string_view source, const Diagnostic& d,
                   std::string_view severity = "error");

/// A value or a diagnostic.
template <class T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Diagnostic d) : v_(std::move(d)) {}
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Diagnostic& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Diagnostic> v_;
};

/// Internal invariant check: aborts with "internal error" and file:line.
[[noreturn]] void internal_error(const char* file, int line, const char* what);
#define ACTJIT_ASSERT(cond)                                 \
  do {                                                      \
    if (!(cond)) ::actjit::internal_error(__FILE__, __LINE__, #cond); \
  } while (0)

}  // namespace actjit
