# Writes OUTPUT, a C++ file holding every POLICY_DIR/*.toml as a built-in policy.
# Run at build time (cmake -P), so editing a policy file rebuilds the binary.
file(GLOB files ${POLICY_DIR}/*.toml)
list(SORT files)
set(body "")
foreach(path IN LISTS files)
  get_filename_component(name ${path} NAME_WE)
  file(READ ${path} text)
  if(text MATCHES "\\)agentjail_policy\"")
    message(FATAL_ERROR "${path} contains the raw-string delimiter")
  endif()
  set(description "")
  if(text MATCHES "\ndescription = \"([^\"\n]*)\"")
    set(description "${CMAKE_MATCH_1}")
  endif()
  string(REPLACE "\\" "\\\\" description "${description}")
  string(APPEND body "  {\"${name}\", \"${description}\", R\"agentjail_policy(${text})agentjail_policy\"},\n")
endforeach()
file(WRITE ${OUTPUT}.tmp "// Generated from policies/*.toml by cmake/embed_policies.cmake. Do not edit.
#include \"policy/builtins.h\"

namespace aj::policy {
namespace {
constexpr Builtin kBuiltins[] = {
${body}};
}  // namespace

std::span<const Builtin> builtins() { return kBuiltins; }

const Builtin* find_builtin(std::string_view name) {
  for (const auto& builtin : kBuiltins)
    if (builtin.name == name) return &builtin;
  return nullptr;
}

}  // namespace aj::policy
")
file(COPY_FILE ${OUTPUT}.tmp ${OUTPUT} ONLY_IF_DIFFERENT)
