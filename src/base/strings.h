// Small string helpers shared by the policy engine, the planner and the CLI.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace aj {

// Splits on every `sep`; empty fields are kept ("a::b" -> {"a", "", "b"}).
std::vector<std::string> split(std::string_view text, char sep);
// Joins with `sep` between items.
std::string join(std::span<const std::string> items, std::string_view sep);
// Removes ASCII whitespace at both ends.
std::string_view trim(std::string_view text);
bool starts_with(std::string_view text, std::string_view prefix);
// Lower-cases ASCII letters.
std::string lower(std::string_view text);
// Damerau-Levenshtein (optimal string alignment) distance, case-insensitive.
size_t edit_distance(std::string_view a, std::string_view b);
// The candidate closest to `word` when it is close enough to be a likely typo.
std::optional<std::string> closest_match(std::string_view word, std::span<const std::string> candidates);
// Quotes a string for messages: "text" with control characters escaped.
std::string quoted(std::string_view text);

}  // namespace aj
