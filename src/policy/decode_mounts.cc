// [filesystem] and its [[filesystem.mount]] entries. Each mount type takes its own keys; a key
// that belongs to another type is reported as such rather than silently ignored, since a
// `read_only = true` on a symlink or a `size` on a bind means the author expected something
// that would not happen.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <map>

#include "base/strings.h"
#include "policy/checks.h"
#include "policy/decode.h"

namespace aj::policy::detail {
namespace {

using namespace std::string_view_literals;

const std::vector<std::string> kMountTypes = {"bind", "tmpfs", "proc", "dev", "symlink", "file"};
constexpr std::array kTypeValues = {MountType::bind, MountType::tmpfs, MountType::proc,
                                    MountType::dev,  MountType::symlink, MountType::file};

// Keys beyond `type` and `target`, per type (indexed like kMountTypes).
const std::vector<std::vector<std::string_view>> kTypeKeys = {
    {"source", "read_only", "optional", "exec", "unsafe_host_kernel_fs"},  // bind
    {"size", "mode", "read_only", "exec"},        // tmpfs
    {},                                           // proc
    {},                                           // dev
    {"source"},                                   // symlink
    {"content", "read_only", "exec"},             // file
};
constexpr std::array kAllKeys = {"source"sv, "read_only"sv, "optional"sv, "exec"sv,
                                 "size"sv,   "mode"sv,      "content"sv,  "unsafe_host_kernel_fs"sv};

Problem link_text(std::string_view text) {
  if (text.empty()) return "a symlink's source (the link text) must not be empty";
  if (text.find('\0') != std::string_view::npos) return "must not contain a NUL byte";
  return std::nullopt;
}

// Reads `key` as a required string; reports it missing at the mount's table.
bool read_required(TableReader& reader, const toml::table& table, std::string_view key, std::string& out,
                   const StringCheck& check, std::string_view what) {
  if (!table.get(key)) {
    reader.get(key);
    report(reader.out(), table.source(), reader.path_of(key),
           fmt::format("filesystem.mount: missing {} (required for {})", aj::quoted(key), what));
    return false;
  }
  return read_string(reader, key, out, check);
}

std::optional<Mount> decode_mount(const toml::table& table, Diagnostics& diagnostics) {
  TableReader reader(table, "filesystem.mount", diagnostics);
  Mount mount;
  mount.pos = position(table.source());
  bool ok = true;
  std::optional<size_t> type;
  if (!table.get("type")) {
    report(diagnostics, table.source(), "filesystem.mount.type",
           fmt::format("filesystem.mount: missing \"type\" (one of {})", join(kMountTypes, ", ")));
    ok = false;
  } else {
    type = read_choice(reader, "type", kMountTypes);
    ok = type.has_value();
  }
  if (!type) {
    // Without a type the other keys cannot be judged; still report keys no mount has.
    reader.allow("type");
    reader.allow("target");
    for (auto key : kAllKeys) reader.allow(key);
    reader.finish();
    return std::nullopt;
  }
  mount.type = kTypeValues[*type];
  const std::string type_name = kMountTypes[*type];
  const auto& own_keys = kTypeKeys[*type];
  for (auto key : kAllKeys) {
    if (std::find(own_keys.begin(), own_keys.end(), key) != own_keys.end()) continue;
    reader.allow(key);
    if (const toml::node* node = table.get(key)) {
      report(diagnostics, node->source(), reader.path_of(key),
             fmt::format("filesystem.mount: {} does not apply to a mount of type {}", aj::quoted(key), aj::quoted(type_name)));
      ok = false;
    }
  }

  if (read_required(reader, table, "target", mount.target, check_target, "every mount"))
    mount.target = normalize_target(mount.target);
  else
    ok = false;

  // Defaults by type: binds and files are read-only unless they say otherwise.
  mount.read_only = mount.type == MountType::bind || mount.type == MountType::file;
  switch (mount.type) {
    case MountType::bind:
      ok &= read_required(reader, table, "source", mount.source, check_absolute, "a bind mount");
      read_bool(reader, "read_only", mount.read_only);
      read_bool(reader, "optional", mount.optional);
      read_bool(reader, "exec", mount.exec);
      read_bool(reader, "unsafe_host_kernel_fs", mount.unsafe_host_kernel_fs);
      break;
    case MountType::tmpfs: {
      read_size(reader, "size", mount.size, 1);
      uint32_t mode = 0755;
      read_mode(reader, "mode", mode, 07777, "1777");
      mount.mode = mode;
      read_bool(reader, "read_only", mount.read_only);
      read_bool(reader, "exec", mount.exec);
      break;
    }
    case MountType::proc:
    case MountType::dev: break;
    case MountType::symlink:
      ok &= read_required(reader, table, "source", mount.source, link_text, "a symlink");
      break;
    case MountType::file: {
      ok &= read_required(reader, table, "content", mount.content, {}, "a file mount");
      const toml::node* node = table.get("read_only");
      if (read_bool(reader, "read_only", mount.read_only) && !mount.read_only) {
        reader.error(*node, "read_only", "a file mount is always read-only (bind a host file to write one)");
        mount.read_only = true;
        ok = false;
      }
      read_bool(reader, "exec", mount.exec);
      break;
    }
  }
  reader.finish();
  if (!ok) return std::nullopt;
  return mount;
}

}  // namespace

void decode_filesystem(TableReader& reader, Filesystem& filesystem) {
  reader.allow("remove");  // consumed by the merge (merge.cc)
  const toml::node* node = reader.get("mount");
  if (!node) return;
  const auto* array = node->as_array();
  if (!array) {
    reader.error(*node, "mount", fmt::format("expected an array of tables ([[filesystem.mount]]), got {}", type_phrase(*node)));
    return;
  }
  std::map<std::string, SourcePos> seen;
  for (const auto& element : *array) {
    const auto* table = element.as_table();
    if (!table) {
      reader.error(element, "mount", fmt::format("expected a table ([[filesystem.mount]]), got {}", type_phrase(element)));
      continue;
    }
    auto mount = decode_mount(*table, reader.out());
    if (!mount) continue;
    auto [first, inserted] = seen.emplace(mount->target, mount->pos);
    if (!inserted) {
      report(reader.out(), table->source(), "filesystem.mount",
             fmt::format("filesystem.mount: duplicate target {} (first at {}:{})", aj::quoted(mount->target),
                         first->second.file, first->second.line));
      continue;
    }
    filesystem.mounts.push_back(std::move(*mount));
  }
}

}  // namespace aj::policy::detail
