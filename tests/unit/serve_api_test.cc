#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "serve/access.h"
#include "serve/api.h"
#include "serve/encoding.h"
#include "serve/metrics.h"

using namespace aj;
using namespace aj::serve;

namespace {

Limits python_limits() {
  Limits limits;  // the defaults: 30 s wall, 10 s CPU, 256 MiB, 64 pids, no cpus limit
  return limits;
}

struct Fixture {
  PolicyCatalog catalog = {{"python", python_limits()}, {"shell", python_limits()}};
  ParseOptions options;
  Fixture() {
    options.policies = &catalog;
    options.default_policy = "python";
  }
  ApiResult<RunRequest> parse(std::string_view body) const { return parse_run_request(body, options); }
};

}  // namespace

TEST_CASE("serve api: a full run request") {
  Fixture f;
  auto request = f.parse(R"J({"id": "job-1", "policy": "shell", "command": ["python3", "-c", "print(1)"],
    "stdin": "in", "env": {"A": "1"}, "files": {"/work/a.py": "print(2)", "/work/b.bin": {"base64": "AAEC"}},
    "collect": ["/work/out.csv"], "limits": {"wall_time": "5s", "memory": "64MiB", "pids": 8}})J");
  REQUIRE(request);
  CHECK(request->id == "job-1");
  CHECK(request->client_id);
  CHECK(request->policy == "shell");
  CHECK(request->command == std::vector<std::string>{"python3", "-c", "print(1)"});
  CHECK(request->stdin_data == "in");
  CHECK(request->env.at("A") == "1");
  CHECK(request->files.at("/work/a.py") == "print(2)");
  CHECK(request->files.at("/work/b.bin") == std::string("\0\1\2", 3));
  CHECK(request->collect == std::vector<std::string>{"/work/out.csv"});
  CHECK(request->limits.wall_time_ms == 5000);
  CHECK(request->limits.memory_bytes == 64ull << 20);
  CHECK(request->limits.pids == 8);
  CHECK(request->limits.cpu_time_ms == 10'000);  // untouched: the policy's
}

TEST_CASE("serve api: the smallest request takes the default policy") {
  Fixture f;
  auto request = f.parse(R"({"command": ["true"]})");
  REQUIRE(request);
  CHECK(request->policy == "python");
  CHECK(request->id.empty());
  CHECK_FALSE(request->client_id);
}

TEST_CASE("serve api: bad requests are refused with their status and one line") {
  Fixture f;
  struct Case {
    const char* body;
    int status;
    const char* says;
  };
  for (Case c : {
           Case{"{", 400, "not JSON"},
           Case{R"({"command": ["x"], "limits": {"cpu_time": 1E656}})", 400, "not JSON"},  // nlohmann: out_of_range
           Case{"[1]", 400, "JSON object"},
           Case{R"({"comand": ["x"]})", 400, "did you mean \"command\""},
           Case{R"({"command": []})", 400, "must not be empty"},
           Case{R"({"command": "ls"})", 400, "array of strings"},
           Case{R"({"command": [""]})", 400, "command[0]"},
           Case{R"({"command": ["a\u0000b"]})", 400, "NUL"},
           Case{R"({"command": ["x"], "policy": "nope"})", 404, "unknown policy \"nope\""},
           Case{R"({"command": ["x"], "policy": {"toml": "version = 1"}})", 403, "--allow-client-policies"},
           Case{R"({"command": ["x"], "id": "a b"})", 400, "id must be"},
           Case{R"({"command": ["x"], "id": ""})", 400, "id must be"},
           Case{R"({"command": ["x"], "env": {"A=B": "1"}})", 400, "variable name"},
           Case{R"({"command": ["x"], "env": {"A": 1}})", 400, "env.A"},
           Case{R"({"command": ["x"], "files": {"rel/a": "x"}})", 400, "absolute"},
           Case{R"({"command": ["x"], "files": {"/a/../b": "x"}})", 400, ".."},
           Case{R"({"command": ["x"], "files": {"/a//b": "x"}})", 400, "//"},
           Case{R"({"command": ["x"], "files": {"/a/": "x"}})", 400, "end in /"},
           Case{R"({"command": ["x"], "files": {"/": "x"}})", 400, "not /"},
           Case{R"({"command": ["x"], "files": {"/a": "x", "/a/b": "y"}})", 400, "inside the file"},
           Case{R"({"command": ["x"], "files": {"/a": {"base64": "!!"}}})", 400, "base64"},
           Case{R"({"command": ["x"], "files": {"/a": 3}})", 400, "string or"},
           Case{R"({"command": ["x"], "collect": ["/a", "/a"]})", 400, "twice"},
           Case{R"({"command": ["x"], "collect": ["a"]})", 400, "absolute"},
           Case{R"({"command": ["x"], "limits": {"memory": "1GiB"}})", 400, "above the policy's 256MiB"},
           Case{R"({"command": ["x"], "limits": {"wall_time": 31}})", 400, "above the policy's 30s"},
           Case{R"({"command": ["x"], "limits": {"pids": "unlimited"}})", 400, "unlimited is above"},
           Case{R"({"command": ["x"], "limits": {"memroy": 1}})", 400, "did you mean \"memory\""},
           Case{R"({"command": ["x"], "limits": {"pids": 0}})", 400, "above 0"},
           Case{R"({"command": ["x"], "limits": {"pids": -1}})", 400, "non-negative"},
           Case{R"({"command": ["x"], "limits": []})", 400, "object"},
       }) {
    std::string body = c.body;
    CAPTURE(body);
    auto request = f.parse(body);
    REQUIRE_FALSE(request);
    CHECK(request.error().status == c.status);
    CHECK(request.error().message.find(c.says) != std::string::npos);
    CHECK(request.error().message.find('\n') == std::string::npos);
  }
}

TEST_CASE("serve api: deep nesting is refused before parsing") {
  Fixture f;
  std::string deep(100000, '[');
  auto request = f.parse(deep);
  REQUIRE_FALSE(request);
  CHECK(request.error().message.find("nested deeper") != std::string::npos);
  // Brackets inside strings are text, not nesting.
  auto fine = f.parse(R"({"command": ["[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["]})");
  CHECK(fine);
}

TEST_CASE("serve api: bounds on files, env and arguments") {
  Fixture f;
  f.options.bounds.max_files = 2;
  f.options.bounds.max_files_bytes = 10;
  f.options.bounds.max_env = 1;
  f.options.bounds.max_command_args = 2;
  CHECK(f.parse(R"({"command": ["x"], "files": {"/a": "", "/b": "", "/c": ""}})").error().status == 400);
  CHECK(f.parse(R"({"command": ["x"], "files": {"/a": "0123456789x"}})").error().status == 413);
  CHECK(f.parse(R"({"command": ["x"], "env": {"A": "", "B": ""}})").error().status == 400);
  CHECK(f.parse(R"({"command": ["x", "y", "z"]})").error().status == 400);
}

TEST_CASE("serve api: client policies when the server accepts them") {
  Fixture f;
  f.options.client_policies = [](const std::string& toml) -> Result<ClientPolicy> {
    if (toml != "ok") return fail(0, "line 1: bad");
    Limits limits;
    limits.pids = 4;
    return ClientPolicy{"mine", limits};
  };
  auto request = f.parse(R"({"command": ["x"], "policy": {"toml": "ok"}, "limits": {"pids": 4}})");
  REQUIRE(request);
  CHECK(request->policy == "mine");
  CHECK(request->policy_toml == "ok");
  auto refused = f.parse(R"({"command": ["x"], "policy": {"toml": "no"}})");
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message == "policy: line 1: bad");
  CHECK(f.parse(R"({"command": ["x"], "policy": {"toml": "ok"}, "limits": {"pids": 5}})").error().status == 400);
}

TEST_CASE("serve api: tighten keeps what is not asked and checks what is") {
  Limits policy;
  policy.cpus = 1.0;
  auto tightened = tighten(policy, nlohmann::json::parse(R"({"cpus": 0.5, "output": "4KiB", "cpu_time": 1.5, "file_size": 0})"));
  REQUIRE(tightened);
  CHECK(tightened->cpus == 0.5);
  CHECK(tightened->output_bytes == 4096);
  CHECK(tightened->cpu_time_ms == 1500);
  CHECK(tightened->file_size_bytes == 0);
  CHECK(tightened->memory_bytes == policy.memory_bytes);
  CHECK_FALSE(tighten(policy, nlohmann::json::parse(R"({"cpus": 2})")));
  CHECK_FALSE(tighten(policy, nlohmann::json::parse(R"({"output": "2MiB"})")));
  Limits unlimited;
  unlimited.memory_bytes.reset();
  CHECK(tighten(unlimited, nlohmann::json::parse(R"({"memory": "unlimited"})")));
  CHECK(tighten(unlimited, nlohmann::json::parse(R"({"memory": "8GiB"})"))->memory_bytes == 8ull << 30);
}

TEST_CASE("serve api: answers") {
  CHECK(error_body("first\nsecond") == R"({"error":"first; second"})");
  CHECK(file_json(std::string("text é")) == "text é");
  CHECK(file_json(std::string("\xff\x00", 2)) == nlohmann::json{{"base64", "/wA="}});
  CHECK(file_json(std::nullopt).is_null());
  nlohmann::json report = {{"status", "ok"}, {"exit_code", 0}};
  auto body = run_response(report, 1000, {{"/out", "x"}, {"/none", std::nullopt}}, true);
  CHECK(body["caller_uid"] == 1000);
  CHECK(body["files"]["/out"] == "x");
  CHECK(body["files"]["/none"].is_null());
  CHECK_FALSE(run_response(report, 0, {}, false).contains("files"));
  CHECK(ndjson_line({{"stdout", "a\nb"}}) == "{\"stdout\":\"a\\nb\"}\n");
  CHECK(health_body({{"python", {3, 4}}}).dump() == R"({"ok":true,"pools":{"python":{"ready":3,"target":4}}})");
}

TEST_CASE("serve api: the agent-sandbox /execute shape") {
  Fixture f;
  auto request = parse_execute_request(R"({"command": "echo hi | wc -c"})", f.options);
  REQUIRE(request);
  CHECK(request->command == std::vector<std::string>{"/bin/sh", "-c", "echo hi | wc -c"});
  CHECK(request->policy == "python");
  CHECK_FALSE(parse_execute_request(R"({"command": ["echo"]})", f.options));
  CHECK_FALSE(parse_execute_request(R"({"command": "x", "extra": 1})", f.options));
  auto ok = execute_response({{"status", "ok"}, {"exit_code", 0}, {"stdout", "3\n"}, {"stderr", ""}});
  CHECK(ok == nlohmann::json{{"stdout", "3\n"}, {"stderr", ""}, {"exit_code", 0}});
  auto killed = execute_response({{"status", "signal"}, {"exit_code", nullptr}, {"signal", "SIGKILL"}, {"stdout", ""}, {"stderr", ""}});
  CHECK(killed["exit_code"] == 137);
  auto timeout = execute_response({{"status", "timeout"}, {"exit_code", nullptr}, {"signal", nullptr}});
  CHECK(timeout["exit_code"] == 124);
  auto setup = execute_response({{"status", "setup_error"}, {"exit_code", nullptr}, {"error", "no /usr"}});
  CHECK(setup["exit_code"] == 125);
  CHECK(setup["stderr"] == "no /usr");
}

TEST_CASE("serve encoding: base64 both ways, strictly") {
  for (std::string bytes : {std::string(), std::string("f"), std::string("fo"), std::string("foo"), std::string("foob"),
                            std::string("\0\xff\x80", 3)}) {
    CHECK(base64_decode(base64_encode(bytes)) == bytes);
  }
  CHECK(base64_encode("foobar") == "Zm9vYmFy");
  CHECK(base64_decode("Zm9vYg") == "foob");  // padding may be left out
  CHECK_FALSE(base64_decode("Zm9vYh=="));    // stray bits in the last character
  CHECK_FALSE(base64_decode("Zm 9v"));
  CHECK_FALSE(base64_decode("Z"));
  CHECK_FALSE(base64_decode("Zm=9"));
  CHECK_FALSE(base64_decode("Zg==="));
}

TEST_CASE("serve encoding: UTF-8 streams never split a character") {
  CHECK(is_utf8("plain"));
  CHECK(is_utf8("é€😀"));
  CHECK_FALSE(is_utf8("\xc3"));
  CHECK_FALSE(is_utf8("\xed\xa0\x80"));  // a surrogate
  const std::string text = "aé€😀b";
  for (size_t step = 1; step <= text.size(); ++step) {
    Utf8Stream stream;
    std::string out;
    for (size_t i = 0; i < text.size(); i += step) {
      std::string piece = stream.push(std::string_view(text).substr(i, step));
      CHECK(is_utf8(piece));
      out += piece;
    }
    out += stream.finish();
    CHECK(out == text);
  }
  Utf8Stream broken;
  CHECK(broken.push("a\xff") == "a\xEF\xBF\xBD");
  CHECK(broken.push("\xe2\x82") == "");
  CHECK(broken.finish() == "\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST_CASE("serve metrics: Prometheus text exposition") {
  Metrics metrics;
  metrics.counter("runs_total", "Runs by status");
  metrics.gauge("ready", "Ready jails");
  metrics.histogram("latency_seconds", "Latency", {0.1, 1});
  metrics.add("runs_total", {{"status", "ok"}});
  metrics.add("runs_total", {{"status", "ok"}});
  metrics.add("runs_total", {{"status", "a\"b"}});
  metrics.set("ready", {{"policy", "python"}}, 3);
  metrics.observe("latency_seconds", {{"route", "r"}}, 0.05);
  metrics.observe("latency_seconds", {{"route", "r"}}, 0.5);
  metrics.observe("latency_seconds", {{"route", "r"}}, 5);
  metrics.add("undeclared", {});  // ignored
  const std::string text = metrics.render();
  CHECK(text.find("# TYPE runs_total counter\n") != std::string::npos);
  CHECK(text.find("runs_total{status=\"ok\"} 2\n") != std::string::npos);
  CHECK(text.find("runs_total{status=\"a\\\"b\"} 1\n") != std::string::npos);
  CHECK(text.find("ready{policy=\"python\"} 3\n") != std::string::npos);
  CHECK(text.find("latency_seconds_bucket{route=\"r\",le=\"0.1\"} 1\n") != std::string::npos);
  CHECK(text.find("latency_seconds_bucket{route=\"r\",le=\"1\"} 2\n") != std::string::npos);
  CHECK(text.find("latency_seconds_bucket{route=\"r\",le=\"+Inf\"} 3\n") != std::string::npos);
  CHECK(text.find("latency_seconds_sum{route=\"r\"} 5.55\n") != std::string::npos);
  CHECK(text.find("latency_seconds_count{route=\"r\"} 3\n") != std::string::npos);
  CHECK(text.find("undeclared") == std::string::npos);
}

TEST_CASE("serve access: tokens compare by content only") {
  CHECK(constant_time_equal("secret-token-123", "secret-token-123"));
  CHECK_FALSE(constant_time_equal("secret-token-123", "secret-token-124"));
  CHECK_FALSE(constant_time_equal("secret-token-123", "secret-token-12"));
  CHECK_FALSE(constant_time_equal("", "x"));
  std::string header = "Bearer secret-token-123";
  CHECK(bearer_matches(&header, "secret-token-123"));
  std::string lower_scheme = "bearer secret-token-123";
  CHECK(bearer_matches(&lower_scheme, "secret-token-123"));
  std::string basic = "Basic secret-token-123";
  CHECK_FALSE(bearer_matches(&basic, "secret-token-123"));
  CHECK_FALSE(bearer_matches(nullptr, "secret-token-123"));
  CHECK(uid_allowed(5, {}));
  CHECK(uid_allowed(5, {4, 5}));
  CHECK_FALSE(uid_allowed(6, {4, 5}));
}

TEST_CASE("serve access: the token file must be private") {
  char dir[] = "/tmp/aj-token-XXXXXX";
  REQUIRE(::mkdtemp(dir));
  const std::string path = std::string(dir) + "/token";
  std::ofstream(path) << "  0123456789abcdef-token\n";
  ::chmod(path.c_str(), 0600);
  auto token = read_token_file(path);
  REQUIRE(token);
  CHECK(*token == "0123456789abcdef-token");
  ::chmod(path.c_str(), 0640);
  CHECK(read_token_file(path).error().message.find("chmod 600") != std::string::npos);
  ::chmod(path.c_str(), 0600);
  const std::string link = std::string(dir) + "/link";
  REQUIRE(::symlink(path.c_str(), link.c_str()) == 0);
  CHECK_FALSE(read_token_file(link));
  const std::string short_path = std::string(dir) + "/short";
  std::ofstream(short_path) << "short\n";
  ::chmod(short_path.c_str(), 0600);
  CHECK(read_token_file(short_path).error().message.find("16 bytes") != std::string::npos);
  ::unlink(link.c_str());
  ::unlink(path.c_str());
  ::unlink(short_path.c_str());
  ::rmdir(dir);
}
