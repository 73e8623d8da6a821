#include "limits/table.h"

#include <type_traits>

namespace aj::limits {

const Row* find(std::string_view key) {
  for (const Row& row : kTable)
    if (row.key == key) return &row;
  return nullptr;
}

Value get(const Limits& limits, const Row& row) {
  return std::visit(
      [&](auto member) -> Value {
        const auto& field = limits.*member;
        if constexpr (std::is_same_v<std::remove_cvref_t<decltype(field)>, uint64_t>) {
          return Number(field);
        } else {
          if (!field) return std::nullopt;
          return Number(*field);
        }
      },
      row.member);
}

bool set(Limits& limits, const Row& row, const Value& value) {
  return std::visit(
      [&](auto member) {
        auto& field = limits.*member;
        using Field = std::remove_cvref_t<decltype(field)>;
        if constexpr (std::is_same_v<Field, uint64_t>) {
          if (!value) return false;
          field = std::visit([](auto n) { return static_cast<uint64_t>(n); }, *value);
        } else {
          using Stored = typename Field::value_type;
          if (value)
            field = std::visit([](auto n) { return static_cast<Stored>(n); }, *value);
          else
            field = std::nullopt;
        }
        return true;
      },
      row.member);
}

}  // namespace aj::limits
