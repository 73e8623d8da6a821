#include "policy/reader.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/strings.h"
#include "policy/units.h"

namespace aj::policy::detail {
namespace {

bool is_unlimited(const toml::node& node) {
  const auto* text = node.as_string();
  return text && lower(text->get()) == "unlimited";
}

// An integer as written: decimal 755 where permission bits are expected is almost always meant
// as octal, and silently taking it as 0o1363 would grant the wrong bits.
bool looks_octal_but_decimal(const toml::value<int64_t>& value) {
  if (value.flags() != toml::value_flags::none) return false;  // written 0o755, 0x1ed or 0b...
  if (value.get() < 8) return false;
  const std::string digits = std::to_string(value.get());
  return std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '7'; });
}

std::optional<uint32_t> parse_octal(std::string_view text) {
  if (text.empty() || text.size() > 6) return std::nullopt;
  uint32_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '7') return std::nullopt;
    value = value * 8 + static_cast<uint32_t>(c - '0');
  }
  return value;
}

}  // namespace

void report(Diagnostics& out, const toml::source_region& region, std::string key, std::string message,
            std::string hint) {
  SourcePos pos = position(region);
  out.push_back(Diagnostic{.file = std::move(pos.file),
                           .line = pos.line,
                           .column = pos.column,
                           .key = std::move(key),
                           .message = std::move(message),
                           .hint = std::move(hint)});
}

SourcePos position(const toml::source_region& region) {
  return SourcePos{.file = region.path ? *region.path : std::string(),
                   .line = region.begin.line,
                   .column = region.begin.column};
}

std::string_view type_phrase(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    case toml::node_type::none: break;
  }
  return "nothing";
}

TableReader::TableReader(const toml::table& table, std::string path, Diagnostics& out)
    : table_(table), path_(std::move(path)), out_(out) {}

const toml::node* TableReader::get(std::string_view key) {
  allow(key);
  return table_.get(key);
}

void TableReader::allow(std::string_view key) {
  if (std::find(known_.begin(), known_.end(), key) == known_.end()) known_.emplace_back(key);
}

void TableReader::finish() {
  for (const auto& [key, node] : table_) {
    if (std::find(known_.begin(), known_.end(), key.str()) != known_.end()) continue;
    const auto& region = key.source().begin.line != 0 ? key.source() : node.source();
    report(out_, region, path_of(key.str()), fmt::format("unknown key {}", aj::quoted(key.str())),
           did_you_mean(key.str(), known_));
  }
}

std::string TableReader::path_of(std::string_view key) const {
  return path_.empty() ? std::string(key) : fmt::format("{}.{}", path_, key);
}

void TableReader::error(const toml::node& at, std::string_view key, std::string message, std::string hint) {
  std::string path = path_of(key);
  report(out_, at.source(), path, fmt::format("{}: {}", path, message), std::move(hint));
}

bool read_bool(TableReader& reader, std::string_view key, bool& out) {
  const toml::node* node = reader.get(key);
  if (!node) return false;
  if (const auto* value = node->as_boolean()) {
    out = value->get();
    return true;
  }
  reader.error(*node, key, fmt::format("expected true or false, got {}", type_phrase(*node)));
  return false;
}

bool read_string(TableReader& reader, std::string_view key, std::string& out, const StringCheck& check) {
  const toml::node* node = reader.get(key);
  if (!node) return false;
  const auto* value = node->as_string();
  if (!value) {
    reader.error(*node, key, fmt::format("expected a string, got {}", type_phrase(*node)));
    return false;
  }
  if (check)
    if (auto problem = check(value->get())) {
      reader.error(*node, key, *problem);
      return false;
    }
  out = value->get();
  return true;
}

bool read_integer(TableReader& reader, std::string_view key, uint64_t& out, uint64_t min, uint64_t max) {
  const toml::node* node = reader.get(key);
  if (!node) return false;
  const auto* value = node->as_integer();
  if (!value) {
    reader.error(*node, key, fmt::format("expected an integer, got {}", type_phrase(*node)));
    return false;
  }
  if (value->get() < 0 || static_cast<uint64_t>(value->get()) < min || static_cast<uint64_t>(value->get()) > max) {
    reader.error(*node, key, fmt::format("{} is out of range ({}..{})", value->get(), min, max));
    return false;
  }
  out = static_cast<uint64_t>(value->get());
  return true;
}

bool read_integer(TableReader& reader, std::string_view key, uint32_t& out, uint32_t min, uint32_t max) {
  uint64_t wide = 0;
  if (!read_integer(reader, key, wide, min, max)) return false;
  out = static_cast<uint32_t>(wide);
  return true;
}

bool read_mode(TableReader& reader, std::string_view key, uint32_t& out, uint32_t max, std::string_view example) {
  const toml::node* node = reader.get(key);
  if (!node) return false;
  std::optional<uint32_t> value;
  if (const auto* text = node->as_string()) {
    value = parse_octal(text->get());
    if (!value) {
      reader.error(*node, key, fmt::format("{} is not an octal number such as \"{}\"", aj::quoted(text->get()), example));
      return false;
    }
  } else if (const auto* number = node->as_integer()) {
    if (looks_octal_but_decimal(*number)) {
      reader.error(*node, key,
                   fmt::format("{} is a decimal integer; permission bits are octal", number->get()),
                   fmt::format("write \"{}\" or 0o{}", number->get(), number->get()));
      return false;
    }
    if (number->get() >= 0 && number->get() <= static_cast<int64_t>(max)) value = static_cast<uint32_t>(number->get());
  } else {
    reader.error(*node, key, fmt::format("expected an octal string such as \"{}\" or an integer, got {}", example,
                                         type_phrase(*node)));
    return false;
  }
  if (!value || *value > max) {
    reader.error(*node, key, fmt::format("is out of range (at most 0o{:o})", max));
    return false;
  }
  out = *value;
  return true;
}

bool read_size(TableReader& reader, std::string_view key, std::optional<uint64_t>& out, uint64_t min) {
  const toml::node* node = reader.get(key);
  if (!node) return false;
  std::optional<uint64_t> value;
  if (is_unlimited(*node)) {
    reader.error(*node, key, "cannot be \"unlimited\": this one must be bounded");
    return false;
  } else if (const auto* text = node->as_string()) {
    auto parsed = parse_size(text->get());
    if (!parsed) {
      reader.error(*node, key, parsed.error().message);
      return false;
    }
    value = *parsed;
  } else if (const auto* number = node->as_integer()) {
    if (number->get() < 0) {
      reader.error(*node, key, fmt::format("{} is negative", number->get()));
      return false;
    }
    value = static_cast<uint64_t>(number->get());
  } else {
    reader.error(*node, key, fmt::format("expected a size such as \"64MiB\" or an integer, got {}", type_phrase(*node)));
    return false;
  }
  if (*value < min) {
    reader.error(*node, key, fmt::format("must be at least {}", format_size(min)));
    return false;
  }
  out = value;
  return true;
}

bool read_strings(TableReader& reader, std::string_view key, std::vector<std::string>& out, const StringCheck& check) {
  const toml::node* node = reader.get(key);
  if (!node) return false;
  const auto* array = node->as_array();
  if (!array) {
    reader.error(*node, key, fmt::format("expected an array of strings, got {}", type_phrase(*node)));
    return false;
  }
  std::vector<std::string> values;
  bool ok = true;
  for (const auto& element : *array) {
    const auto* text = element.as_string();
    if (!text) {
      reader.error(element, key, fmt::format("expected an array of strings, got {} in it", type_phrase(element)));
      ok = false;
      continue;
    }
    if (check)
      if (auto problem = check(text->get())) {
        reader.error(element, key, *problem);
        ok = false;
        continue;
      }
    values.push_back(text->get());
  }
  if (!ok) return false;
  out = std::move(values);
  return true;
}

std::optional<size_t> read_choice(TableReader& reader, std::string_view key, std::span<const std::string> names) {
  const toml::node* node = reader.get(key);
  if (!node) return std::nullopt;
  std::vector<std::string> list(names.begin(), names.end());
  const auto* text = node->as_string();
  if (!text) {
    reader.error(*node, key, fmt::format("expected one of {} (a string), got {}", join(list, ", "), type_phrase(*node)));
    return std::nullopt;
  }
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == text->get()) return i;
  reader.error(*node, key, fmt::format("{} is not one of {}", aj::quoted(text->get()), join(list, ", ")),
               did_you_mean(text->get(), names));
  return std::nullopt;
}

}  // namespace aj::policy::detail
