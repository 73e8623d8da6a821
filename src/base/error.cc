#include "base/error.h"

#include <cstring>

namespace aj {

std::string errno_text(int code) {
  // strerrordesc_np never touches a shared buffer and knows every errno glibc does.
  if (const char* text = strerrordesc_np(code)) return text;
  return "error " + std::to_string(code);
}

std::string Error::what() const {
  if (code == 0) return message;
  return message + ": " + errno_text(code);
}

Error Error::context(std::string_view outer) const& {
  Error copy = *this;
  return std::move(copy).context(outer);
}

Error Error::context(std::string_view outer) && {
  message = std::string(outer) + (message.empty() ? "" : ": ") + message;
  return std::move(*this);
}

}  // namespace aj
