// The effective policy as text: canonical TOML (what `check` prints and what
// policy.sha256 hashes) and JSON (`check --json`).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "limits/table.h"
#include "policy/model.h"

namespace aj::policy {

// Canonical TOML: every key, defaults filled, fixed key order, stable across emit -> parse -> emit.
std::string to_toml(const Policy& policy);
// The same content as JSON; sizes in bytes, durations in milliseconds, "unlimited" as null.
nlohmann::json to_json(const Policy& policy);
// A limit's value as JSON: its number (bytes, ms, a count, CPUs), null for "unlimited".
nlohmann::json to_json(const limits::Value& value);
// Lower-case hex SHA-256 of to_toml(policy).
std::string sha256_hex(const Policy& policy);

}  // namespace aj::policy
