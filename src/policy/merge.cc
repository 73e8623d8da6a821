// How `extends` combines policy files. The same rules are in agentjail-policy(5).
//
//   * Files apply in order from the root of the chain to the file that was asked for; each
//     applies on top of the merge of everything before it.
//   * Tables merge key by key, recursively: a child sets only the keys it names ([process] env
//     too: a child adds or changes single variables and keeps the parent's others).
//   * Every other value, arrays included (seccomp.allow, pass_env, capabilities.keep, ...), is
//     replaced as a whole by the child's.
//   * `filesystem.mount` is the exception: the child's entries are appended in order, except
//     that an entry whose `target` equals an inherited entry's replaces that entry where it
//     stands, so the mount order the parent chose is kept.
//   * `[filesystem] remove = ["/target", ...]` deletes inherited mounts before the child's own
//     entries apply (remove and re-add to move a mount to the end). Removing a target that no
//     inherited mount has is an error: it is a typo or a parent that changed.
//   * Within one file a target may appear only once.
//   * `name` and `description` describe one file and are not inherited; a file without `name`
//     is named after itself. `extends` never reaches the merged result.
#include "policy/merge.h"

#include <fmt/format.h>

#include <map>

#include "base/strings.h"
#include "policy/checks.h"
#include "policy/reader.h"

namespace aj::policy::detail {
namespace {

// Policy tables nest three deep at most ([process.env]); deeper tables are not part of the
// schema and are replaced whole rather than walked (the decoder reports them as unknown).
constexpr int kMaxMergeDepth = 4;

// Puts `node` under `key`, dropping what was there, so the key keeps the child's position too.
void put(toml::table& table, const toml::key& key, toml::node&& node) {
  table.erase(key.str());
  table.insert(key, std::move(node));
}

void merge_tables(toml::table& base, toml::table& child, int depth) {
  for (auto&& [key, node] : child) {
    auto* base_table = base.get_as<toml::table>(key.str());
    auto* child_table = node.as_table();
    if (base_table && child_table && depth < kMaxMergeDepth)
      merge_tables(*base_table, *child_table, depth + 1);
    else
      put(base, key, std::move(node));
  }
}

// The target of a [[filesystem.mount]] entry as merge compares it, when it has one.
std::optional<std::string> target_of(const toml::node& entry) {
  const auto* table = entry.as_table();
  if (!table) return std::nullopt;
  const auto* target = table->get_as<std::string>("target");
  if (!target) return std::nullopt;
  return normalize_target(target->get());
}

toml::array::iterator find_target(toml::array& mounts, const std::string& target) {
  for (auto it = mounts.begin(); it != mounts.end(); ++it)
    if (target_of(*it) == target) return it;
  return mounts.end();
}

void apply_removals(toml::array* inherited, const toml::node& remove, Diagnostics& diagnostics) {
  const auto* list = remove.as_array();
  if (!list) {
    report(diagnostics, remove.source(), "filesystem.remove",
           fmt::format("filesystem.remove: expected an array of mount targets, got {}", type_phrase(remove)));
    return;
  }
  for (const auto& element : *list) {
    const auto* target = element.as_string();
    if (!target) {
      report(diagnostics, element.source(), "filesystem.remove",
             fmt::format("filesystem.remove: expected an array of mount targets, got {} in it", type_phrase(element)));
      continue;
    }
    auto found = inherited ? find_target(*inherited, normalize_target(target->get())) : toml::array::iterator{};
    if (!inherited || found == inherited->end()) {
      report(diagnostics, element.source(), "filesystem.remove",
             fmt::format("filesystem.remove: no inherited mount has target {}", aj::quoted(target->get())));
      continue;
    }
    inherited->erase(found);
  }
}

// The child's [[filesystem.mount]] entries: replace in place or append; a target twice in the
// same file is an error (the second entry is dropped so the first one's diagnostics stand).
void apply_mounts(toml::array& inherited, toml::array& own, Diagnostics& diagnostics) {
  std::map<std::string, uint32_t> seen;  // target -> line of its first entry in this file
  for (auto& entry : own) {
    auto target = target_of(entry);
    if (target) {
      auto [first, inserted] = seen.emplace(*target, entry.source().begin.line);
      if (!inserted) {
        report(diagnostics, entry.source(), "filesystem.mount",
               fmt::format("filesystem.mount: duplicate target {} (first at line {})", aj::quoted(*target), first->second));
        continue;
      }
      auto found = find_target(inherited, *target);
      if (found != inherited.end()) {
        inherited.replace(found, std::move(entry));
        continue;
      }
    }
    inherited.push_back(std::move(entry));
  }
}

void merge_filesystem(toml::table& base, toml::table& child, Diagnostics& diagnostics) {
  auto* inherited = base.get_as<toml::array>("mount");
  if (const toml::node* remove = child.get("remove")) {
    apply_removals(inherited, *remove, diagnostics);
    child.erase("remove");
  }
  auto mount = child.find("mount");
  if (mount != child.end() && mount->second.is_array()) {
    if (!inherited) {
      // Nothing usable inherited: start from an empty list at the child's position, so the
      // duplicate check still runs over the child's entries.
      base.erase("mount");
      toml::array empty;
      base.insert(mount->first, std::move(empty));
      inherited = base.get_as<toml::array>("mount");
    }
    apply_mounts(*inherited, *mount->second.as_array(), diagnostics);
    child.erase(mount);
  }
  merge_tables(base, child, 2);
}

}  // namespace

void merge_policy(toml::table& effective, toml::table&& file, Diagnostics& diagnostics) {
  effective.erase("name");
  effective.erase("description");
  effective.erase("extends");
  file.erase("extends");
  for (auto&& [key, node] : file) {
    if (key.str() == "filesystem" && node.is_table()) {
      if (!effective.get_as<toml::table>("filesystem")) {
        effective.erase("filesystem");
        effective.insert(key, toml::table{});
      }
      merge_filesystem(*effective.get_as<toml::table>("filesystem"), *node.as_table(), diagnostics);
      continue;
    }
    auto* base_table = effective.get_as<toml::table>(key.str());
    if (base_table && node.is_table())
      merge_tables(*base_table, *node.as_table(), 1);
    else
      put(effective, key, std::move(node));
  }
}

}  // namespace aj::policy::detail
