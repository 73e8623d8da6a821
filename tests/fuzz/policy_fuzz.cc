// libFuzzer target: arbitrary bytes as a policy file. Beyond "no crash, no sanitizer report",
// it checks the loader's contract on every input:
//   * a refused policy says why (at least one diagnostic); an accepted one has none;
//   * an accepted policy emits canonical TOML that loads again and emits the same bytes;
//   * to_json and sha256_hex work on whatever was accepted.
// `extends` by path is disabled (no base directory), so inputs cannot make the loader read
// files of the machine; built-in parents still work and are merged as usual.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "policy/emit.h"
#include "policy/load.h"

namespace {

[[noreturn]] void broken(const char* what, std::string_view detail) {
  std::fprintf(stderr, "policy_fuzz: %s\n%.*s\n", what, static_cast<int>(detail.size()), detail.data());
  std::abort();
}

std::string formatted(const aj::policy::Diagnostics& diagnostics) {
  std::string out;
  for (const auto& diagnostic : diagnostics) out += diagnostic.format() + "\n";
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace aj::policy;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Diagnostics diagnostics;
  auto loaded = load_text(text, "fuzz.toml", "", diagnostics);
  const std::string messages = formatted(diagnostics);
  if (!loaded) {
    if (diagnostics.empty()) broken("refused without a diagnostic", text);
    return 0;
  }
  if (!diagnostics.empty()) broken("accepted with diagnostics", messages);

  const std::string canonical = to_toml(loaded->policy);
  Diagnostics again;
  auto reloaded = load_text(canonical, "canonical.toml", "", again);
  if (!reloaded) broken("canonical TOML does not load again", canonical + "\n" + formatted(again));
  if (to_toml(reloaded->policy) != canonical) broken("emit -> load -> emit is not stable", canonical);
  if (to_json(loaded->policy).dump().empty()) broken("empty JSON", canonical);
  if (sha256_hex(loaded->policy).size() != 64) broken("bad sha256", canonical);
  return 0;
}
