// Decoding TOML nodes into model fields with located diagnostics. Every value keeps the position
// toml++ recorded for it (and its file, also after extends merged several files), so each
// problem is reported as file:line:col at the place that set the value.
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "policy/checks.h"
#include "policy/diagnostic.h"
#include "policy/model.h"

namespace aj::policy::detail {

// Appends a diagnostic located at `region` (its file is the region's path).
void report(Diagnostics& out, const toml::source_region& region, std::string key, std::string message,
            std::string hint = {});
// The model's record of where a node came from.
SourcePos position(const toml::source_region& region);
// "a string", "an integer", ... for "expected X, got Y" messages.
std::string_view type_phrase(const toml::node& node);

// One TOML table being decoded. Remembers which keys the decoder asked for, so that finish()
// can report every other key as unknown, with a "did you mean" among the known ones.
class TableReader {
 public:
  TableReader(const toml::table& table, std::string path, Diagnostics& out);

  // The node at `key`, or null when absent; `key` becomes a known key either way.
  const toml::node* get(std::string_view key);
  // Marks `key` known without reading it (keys handled elsewhere, such as `extends`).
  void allow(std::string_view key);
  // Reports each key that was neither get() nor allow()ed as unknown.
  void finish();
  // The dotted name of `key` in this table ("limits.pids").
  std::string path_of(std::string_view key) const;
  const toml::table& table() const { return table_; }
  Diagnostics& out() { return out_; }
  // Reports a problem with the value at `key`, prefixed with its dotted name.
  void error(const toml::node& at, std::string_view key, std::string message, std::string hint = {});

 private:
  const toml::table& table_;
  std::string path_;
  Diagnostics& out_;
  std::vector<std::string> known_;
};

using StringCheck = std::function<Problem(std::string_view)>;

// Each read_* leaves `out` untouched when the key is absent, reports (and leaves it) when the
// value has the wrong type or fails its check, and returns whether it assigned.
bool read_bool(TableReader& reader, std::string_view key, bool& out);
bool read_string(TableReader& reader, std::string_view key, std::string& out, const StringCheck& check = {});
// An integer in [min, max].
bool read_integer(TableReader& reader, std::string_view key, uint64_t& out, uint64_t min, uint64_t max);
bool read_integer(TableReader& reader, std::string_view key, uint32_t& out, uint32_t min, uint32_t max);
// Permission bits: an octal string ("1777") or an integer (0o1777), at most `max`; `example`
// shows the expected spelling in messages.
bool read_mode(TableReader& reader, std::string_view key, uint32_t& out, uint32_t max, std::string_view example);
// A size that must be bounded: integer bytes or "64MiB", at least `min` (the limits of [limits]
// are read by policy/limit_value.h instead).
bool read_size(TableReader& reader, std::string_view key, std::optional<uint64_t>& out, uint64_t min);
// An array of strings, each passing `check`; `out` is replaced (arrays replace on extends).
bool read_strings(TableReader& reader, std::string_view key, std::vector<std::string>& out,
                  const StringCheck& check = {});

// A string that must be one of `names`; returns its index.
std::optional<size_t> read_choice(TableReader& reader, std::string_view key, std::span<const std::string> names);

}  // namespace aj::policy::detail
