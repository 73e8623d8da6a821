#include "ci/gitlab.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

using namespace aj::ci::gitlab;

namespace {
bool has(const std::vector<std::string>& words, const std::string& word) {
  return std::find(words.begin(), words.end(), word) != words.end();
}
}  // namespace

TEST_CASE("ci gitlab: exit codes from the runner's environment") {
  auto codes = exit_codes({{"BUILD_FAILURE_EXIT_CODE", "17"}, {"SYSTEM_FAILURE_EXIT_CODE", "23"},
                           {"BUILD_EXIT_CODE_FILE", "/tmp/x"}});
  REQUIRE(codes);
  CHECK(codes->build_failure == 17);
  CHECK(codes->system_failure == 23);
  CHECK(codes->exit_code_file == "/tmp/x");
  auto defaults = exit_codes({});
  REQUIRE(defaults);
  CHECK(defaults->build_failure == 1);
  CHECK(defaults->system_failure == 2);
  CHECK(defaults->exit_code_file.empty());
  for (const char* bad : {"0", "256", "-1", "1x", " 3", "abc"})
    CHECK_FALSE(exit_codes({{"BUILD_FAILURE_EXIT_CODE", bad}}));
}

TEST_CASE("ci gitlab: the job id is digits only") {
  CHECK(job_id({{"CUSTOM_ENV_CI_JOB_ID", "12345"}}).value() == "12345");
  for (const char* bad : {"", "../1", "1/2", "12a", "-1", "123456789012345678901"})
    CHECK_FALSE(job_id({{"CUSTOM_ENV_CI_JOB_ID", bad}}));
  CHECK_FALSE(job_id({}));
}

TEST_CASE("ci gitlab: stage names and whose they are") {
  CHECK(stage_kind("get_sources").value() == StageKind::runner);
  CHECK(stage_kind("upload_artifacts_on_failure").value() == StageKind::runner);
  CHECK(stage_kind("step_script").value() == StageKind::job);
  CHECK(stage_kind("after_script").value() == StageKind::job);
  CHECK(stage_kind("step_release").value() == StageKind::job);
  for (const char* bad : {"", "Step", "a/b", "../x", "a b"}) CHECK_FALSE(stage_kind(bad));
}

TEST_CASE("ci gitlab: the server's endpoint from its URL") {
  CHECK(server_endpoint("https://gitlab.example.com").value() == "gitlab.example.com:443");
  CHECK(server_endpoint("http://GitLab.Example.com:8080/group").value() == "gitlab.example.com:8080");
  CHECK(server_endpoint("https://[2001:db8::1]:8443/").value() == "[2001:db8::1]:8443");
  CHECK(server_endpoint("https://[2001:db8::1]").value() == "[2001:db8::1]:443");
  for (const char* bad : {"gitlab.example.com", "ftp://x", "https://", "https://u:p@h", "https://h:0", "https://h:99999",
                          "https://h:x", "https://h_x"})
    CHECK_FALSE(server_endpoint(bad));
}

TEST_CASE("ci gitlab: stage access is a workspace; only the runner's stages get the allowlist") {
  Settings settings;
  settings.state_dir = "/var/lib/s";
  settings.server = "https://gitlab.example.com";
  settings.server_allow = {"cache.example.com:443"};
  const JobPaths paths = job_paths(settings, "9");
  CHECK(paths.builds == "/var/lib/s/9/builds");
  CHECK(paths.cache == "/var/lib/s/9/builds/.agentjail-cache");
  auto job = stage_access(settings, paths, StageKind::job);
  REQUIRE(job);
  CHECK(job->options == std::vector<std::string>{"-w", "/var/lib/s/9/builds:/builds:rw"});
  auto runner = stage_access(settings, paths, StageKind::runner);
  REQUIRE(runner);
  CHECK(runner->options == std::vector<std::string>{"-w", "/var/lib/s/9/builds:/builds:rw", "--net", "allowlist",
                                                     "--allow", "gitlab.example.com:443", "--allow",
                                                     "cache.example.com:443"});
  settings.cache_dir = "/srv/cache";
  auto shared = stage_access(settings, job_paths(settings, "9"), StageKind::job);
  REQUIRE(shared);
  CHECK(has(shared->options, "/srv/cache:/cache"));
  settings.server.clear();
  CHECK_FALSE(stage_access(settings, paths, StageKind::runner));
}

TEST_CASE("ci gitlab: the stage's command line and the runner's config") {
  Settings settings;
  settings.policy = "/etc/agentjail/ci.toml";
  Access access{{"-w", "/b:/builds:rw"}};
  auto argv = stage_command(settings, access, "/tmp/script", "/r/step_script.json");
  CHECK(argv[0] == "run");
  CHECK(argv[1] == "-p");
  CHECK(argv[2] == "/etc/agentjail/ci.toml");
  CHECK(has(argv, "/tmp/script:/run/agentjail-ci/script"));
  CHECK(argv.back() == "/run/agentjail-ci/script");
  auto config = nlohmann::json::parse(config_json("host", "1.0", false));
  CHECK(config["builds_dir"] == "/builds");
  CHECK(config["cache_dir"] == "/builds/.agentjail-cache");
  CHECK(config["builds_dir_is_shared"] == false);
  CHECK(nlohmann::json::parse(config_json("host", "1.0", true))["cache_dir"] == "/cache");
}

TEST_CASE("ci gitlab: how a stage ends") {
  ExitCodes codes{17, 23, "/f"};
  CHECK(stage_end(codes, false, 0).exit == 0);
  CHECK_FALSE(stage_end(codes, false, 0).build_code);
  CHECK(stage_end(codes, false, 42).exit == 17);
  CHECK(stage_end(codes, false, 42).build_code == 42);
  CHECK(stage_end(codes, true, 125).exit == 23);
  CHECK_FALSE(stage_end(codes, true, 125).build_code);
}
