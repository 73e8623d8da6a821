// Loading: find the file (or built-in), follow `extends` to the root of the chain, merge the
// chain at the TOML-node level (merge.cc), decode (decode.cc) and check the result (validate.cc).
#include "policy/load.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <tuple>
#include <toml++/toml.h>

#include "base/error.h"
#include "base/strings.h"
#include "policy/builtins.h"
#include "policy/checks.h"
#include "policy/decode.h"
#include "policy/merge.h"
#include "policy/reader.h"
#include "policy/validate.h"
#include "sys/fd.h"

namespace aj::policy {
namespace {

namespace fs = std::filesystem;

// A policy is a page of TOML; anything larger is a mistake (or /dev/zero).
constexpr size_t kMaxPolicyBytes = 1 << 20;
// Real chains are two or three files deep; the cap turns a runaway chain into a clear error.
constexpr size_t kMaxExtendsDepth = 8;

struct Source {
  std::string display;   // in diagnostics: the path as the user wrote it (or derived), or "builtin:NAME"
  std::string identity;  // for cycle detection: "builtin:NAME" or the canonical absolute path
  std::string base_dir;  // where a relative `extends` path resolves; empty: paths are not allowed
  std::string stem;      // the default `name`
  std::string text;
};

struct Layer {
  Source source;
  toml::table table;
};

bool is_path_spec(std::string_view spec) { return spec.find('/') != std::string_view::npos || spec.ends_with(".toml"); }

Diagnostic whole_file(std::string file, std::string key, std::string message, std::string hint = {}) {
  return Diagnostic{.file = std::move(file), .key = std::move(key), .message = std::move(message), .hint = std::move(hint)};
}

// Reads a policy file: regular files only (a FIFO would block, a device never end), bounded.
Result<std::string> read_policy_file(const std::string& path) {
  sys::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd) return fail_errno("cannot read");
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return fail_errno("cannot read");
  if (S_ISDIR(st.st_mode)) return fail(EISDIR, "cannot read");
  if (!S_ISREG(st.st_mode)) return fail(0, "cannot read: not a regular file");
  std::string text;
  char buffer[16384];
  while (true) {
    ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("cannot read");
    if (n == 0) return text;
    text.append(buffer, static_cast<size_t>(n));
    if (text.size() > kMaxPolicyBytes) return fail(EFBIG, fmt::format("is larger than {} bytes", kMaxPolicyBytes));
  }
}

std::string canonical_or_absolute(const fs::path& path) {
  std::error_code error;
  fs::path canonical = fs::weakly_canonical(path, error);
  return error ? path.lexically_normal().string() : canonical.string();
}

Source builtin_source(const Builtin& builtin) {
  std::string name(builtin.name);
  return Source{.display = "builtin:" + name, .identity = "builtin:" + name, .base_dir = {}, .stem = name,
                .text = std::string(builtin.text)};
}

std::vector<std::string> builtin_names() {
  std::vector<std::string> names;
  for (const auto& builtin : builtins()) names.emplace_back(builtin.name);
  return names;
}

// A path (relative to the caller's directory or to `base_dir`) -> its Source, read from disk.
Result<Source> file_source(const std::string& spec, const std::string& display, const std::string& base_dir) {
  fs::path path = fs::path(spec).is_absolute() ? fs::path(spec) : fs::path(base_dir) / spec;
  path = path.lexically_normal();
  auto text = read_policy_file(path.string());
  if (!text) return std::unexpected(text.error());
  return Source{.display = display,
                .identity = canonical_or_absolute(path),
                .base_dir = path.parent_path().string(),
                .stem = path.stem().string(),
                .text = std::move(*text)};
}

// "python.toml" that does not exist was probably meant as the built-in "python".
std::string builtin_hint(std::string_view spec, const Error& error) {
  if (error.code != ENOENT) return {};
  const std::string stem = fs::path(spec).stem().string();
  if (!find_builtin(stem)) return {};
  return fmt::format("did you mean the built-in policy {}?", aj::quoted(stem));
}

std::string chain_text(const std::vector<Layer>& chain, std::string_view last) {
  std::vector<std::string> names;
  for (const auto& layer : chain) names.push_back(layer.source.display);
  names.emplace_back(last);
  return join(names, " -> ");
}

std::optional<toml::table> parse_toml(const Source& source, Diagnostics& diagnostics) {
  try {
    return toml::parse(std::string_view(source.text), std::string(source.display));
  } catch (const toml::parse_error& error) {
    detail::report(diagnostics, error.source(), "", fmt::format("TOML syntax error: {}", error.description()));
    diagnostics.back().file = source.display;  // toml++ leaves the path unset on some errors
    return std::nullopt;
  }
}

// Every file of a chain must say `version = 1`: a parent written for another schema would be
// misread just as surely as a child.
void check_version(const Source& source, const toml::table& table, Diagnostics& diagnostics) {
  const toml::node* node = table.get("version");
  if (!node) {
    diagnostics.push_back(whole_file(source.display, "version", "missing required key \"version\"",
                                     "add `version = 1` at the top"));
    return;
  }
  const auto* number = node->as_integer();
  if (!number) {
    detail::report(diagnostics, node->source(), "version",
                   fmt::format("version: expected the integer 1, got {}", detail::type_phrase(*node)));
    return;
  }
  if (number->get() != 1) {
    detail::report(diagnostics, node->source(), "version",
                   fmt::format("version: unsupported policy version {} (this agentjail reads version 1)", number->get()));
  }
}

// The parent named by `extends` in `child`, or a diagnostic at the `extends` value.
std::optional<Source> resolve_parent(const std::vector<Layer>& chain, const toml::node& extends,
                                     const std::string& spec, Diagnostics& diagnostics) {
  const Source& child = chain.back().source;
  auto error = [&](std::string message, std::string hint = {}) {
    detail::report(diagnostics, extends.source(), "extends", fmt::format("extends: {}", message), std::move(hint));
    return std::nullopt;
  };
  std::optional<Source> parent;
  if (!is_path_spec(spec)) {
    const Builtin* builtin = find_builtin(spec);
    if (!builtin) return error(fmt::format("unknown built-in policy {}", aj::quoted(spec)), did_you_mean(spec, builtin_names()));
    parent = builtin_source(*builtin);
  } else {
    if (child.base_dir.empty())
      return error(child.display.starts_with("builtin:")
                       ? "a built-in policy can only extend other built-in policies"
                       : "extending a policy file by path is not available for this policy (no base directory)");
    std::string display = fs::path(spec).is_absolute()
                              ? spec
                              : (fs::path(child.display).parent_path() / spec).lexically_normal().string();
    auto source = file_source(spec, display, child.base_dir);
    if (!source)
      return error(fmt::format("{}: {} ({})", aj::quoted(display), source.error().what(), chain_text(chain, display)),
                   builtin_hint(spec, source.error()));
    parent = std::move(*source);
  }
  for (const auto& layer : chain)
    if (layer.source.identity == parent->identity)
      return error(fmt::format("cycle: {}", chain_text(chain, parent->display)));
  if (chain.size() >= kMaxExtendsDepth)
    return error(fmt::format("chain is longer than {} files: {}", kMaxExtendsDepth, chain_text(chain, parent->display)));
  return parent;
}

// Diagnostics in reading order: the asked-for file first, then its parents, each by position.
void sort_diagnostics(const std::vector<Layer>& chain, Diagnostics& diagnostics, size_t from) {
  auto rank = [&](const Diagnostic& d) {
    for (size_t i = 0; i < chain.size(); ++i)
      if (chain[i].source.display == d.file) return i;
    return chain.size();
  };
  std::stable_sort(diagnostics.begin() + static_cast<ptrdiff_t>(from), diagnostics.end(),
                   [&](const Diagnostic& a, const Diagnostic& b) {
                     return std::tuple(rank(a), a.line, a.column) < std::tuple(rank(b), b.line, b.column);
                   });
}

std::optional<Loaded> load_source(Source leaf, std::string loaded_source, Diagnostics& diagnostics) {
  const size_t before = diagnostics.size();
  std::vector<Layer> chain;
  std::optional<Source> next = std::move(leaf);
  while (next) {
    auto table = parse_toml(*next, diagnostics);
    if (!table) return std::nullopt;
    // A version problem is reported and the walk goes on, so the parents' problems show too.
    check_version(*next, *table, diagnostics);
    chain.push_back(Layer{std::move(*next), std::move(*table)});
    next.reset();
    const toml::node* extends = chain.back().table.get("extends");
    if (!extends) break;
    const auto* spec = extends->as_string();
    if (!spec || spec->get().empty()) {
      detail::report(diagnostics, extends->source(), "extends",
                     spec ? std::string("extends: must name a built-in policy or a .toml file")
                          : fmt::format("extends: expected a string, got {}", detail::type_phrase(*extends)));
      return std::nullopt;
    }
    next = resolve_parent(chain, *extends, spec->get(), diagnostics);
    if (!next) return std::nullopt;
  }
  if (diagnostics.size() != before) return std::nullopt;  // a version problem somewhere in the chain

  toml::table effective;
  for (auto layer = chain.rbegin(); layer != chain.rend(); ++layer)
    detail::merge_policy(effective, std::move(layer->table), diagnostics);
  Policy policy = detail::decode(effective, diagnostics);
  if (!effective.contains("name"))
    policy.name = chain.front().source.stem.empty() ? "policy" : chain.front().source.stem;
  if (diagnostics.size() != before) {
    sort_diagnostics(chain, diagnostics, before);
    return std::nullopt;
  }
  if (!validate(policy, diagnostics)) return std::nullopt;
  return Loaded{std::move(policy), std::move(loaded_source)};
}

}  // namespace

std::optional<Loaded> load(std::string_view spec, Diagnostics& diagnostics) {
  if (!is_path_spec(spec)) {
    const Builtin* builtin = find_builtin(spec);
    if (!builtin) {
      diagnostics.push_back(whole_file(std::string(spec), "", fmt::format("unknown built-in policy {}", aj::quoted(spec)),
                                       did_you_mean(spec, builtin_names())));
      return std::nullopt;
    }
    Source source = builtin_source(*builtin);
    std::string name = source.display;
    return load_source(std::move(source), std::move(name), diagnostics);
  }
  std::error_code error;
  fs::path absolute = fs::absolute(fs::path(spec), error).lexically_normal();
  if (error) {
    diagnostics.push_back(whole_file(std::string(spec), "", fmt::format("cannot resolve path: {}", error.message())));
    return std::nullopt;
  }
  auto source = file_source(absolute.string(), std::string(spec), "/");
  if (!source) {
    diagnostics.push_back(whole_file(std::string(spec), "", source.error().what(), builtin_hint(spec, source.error())));
    return std::nullopt;
  }
  return load_source(std::move(*source), absolute.string(), diagnostics);
}

std::optional<Loaded> load_text(std::string_view text, std::string_view display_name, std::string_view base_dir,
                                Diagnostics& diagnostics) {
  std::string display(display_name);
  std::string stem = display.starts_with("builtin:") ? display.substr(8) : fs::path(display).stem().string();
  std::string identity =
      base_dir.empty() ? display : canonical_or_absolute(fs::path(base_dir) / fs::path(display).filename());
  Source source{.display = display,
                .identity = std::move(identity),
                .base_dir = std::string(base_dir),
                .stem = std::move(stem),
                .text = std::string(text)};
  return load_source(std::move(source), display, diagnostics);
}

}  // namespace aj::policy
