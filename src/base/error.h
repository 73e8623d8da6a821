// Error values: an errno plus a message that callers extend with context, outermost first.
#pragma once

#include <cerrno>
#include <expected>
#include <string>
#include <string_view>

namespace aj {

struct Error {
  int code = 0;         // errno of the failing call, 0 when it was not a system call
  std::string message;  // "what failed", without the errno text

  // "message: strerror(code)" or just "message".
  std::string what() const;
  // Prefixes "outer: " to the message, so the outermost context reads first.
  Error context(std::string_view outer) const&;
  Error context(std::string_view outer) &&;
};

template <class T>
using Result = std::expected<T, Error>;
using Status = std::expected<void, Error>;

// fail(EINVAL, "bad thing") -> an unexpected Error to return from a Result function.
inline std::unexpected<Error> fail(int code, std::string message) {
  return std::unexpected(Error{code, std::move(message)});
}
// fail_errno("open /x") -> the same, with the current errno.
inline std::unexpected<Error> fail_errno(std::string message) { return fail(errno, std::move(message)); }

// The text strerror() gives, without its thread-safety problems.
std::string errno_text(int code);

}  // namespace aj
