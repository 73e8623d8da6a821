// The warm pool's pure parts: which requests a pooled jail takes (the rest go cold), the
// request as the server hands it to a pooled worker, and the command as the worker hands it
// to the jail's init (jail/handoff.h).
#include <doctest/doctest.h>
#include <sys/resource.h>

#include "jail/handoff.h"
#include "serve/pool.h"

using namespace aj;
using serve::json;

namespace {

serve::RunRequest plain_request() {
  serve::RunRequest request;
  request.id = "r1";
  request.policy = "default";
  request.command = {"/bin/sh", "-c", "echo hi"};
  return request;
}

}  // namespace

TEST_CASE("pool: a plain request fits a pooled jail, limits it applies may be tightened") {
  Limits policy;
  serve::RunRequest request = plain_request();
  request.limits = policy;
  CHECK_FALSE(serve::pool_refusal(request, policy));
  // The command child and the supervisor apply these: a pooled jail takes them.
  request.limits.wall_time_ms = 1000;
  request.limits.cpu_time_ms = 500;
  request.limits.file_size_bytes = 10;
  request.limits.open_files = 32;
  request.limits.output_bytes = 100;
  request.env["A"] = "b";
  request.stdin_data = "input";
  CHECK_FALSE(serve::pool_refusal(request, policy));
}

TEST_CASE("pool: what needs the jail built otherwise goes cold, with the reason") {
  Limits policy;
  serve::RunRequest request = plain_request();
  request.limits = policy;
  SUBCASE("files") { request.files["/work/a.py"] = "print(1)"; }
  SUBCASE("collect") { request.collect.push_back("/work/out"); }
  SUBCASE("memory") { request.limits.memory_bytes = 1u << 20; }
  SUBCASE("pids") { request.limits.pids = 4; }
  SUBCASE("cpus") { request.limits.cpus = 0.5; }
  SUBCASE("client policy") { request.policy_toml = "name = \"mine\""; }
  auto why = serve::pool_refusal(request, policy);
  REQUIRE(why);
  CHECK_FALSE(why->empty());
}

TEST_CASE("pool: the request reaches the pooled worker whole, bytes and all") {
  serve::RunRequest request = plain_request();
  request.command.push_back(std::string("\xff\x01 not utf-8", 12));
  request.stdin_data = std::string("\0\x80stdin", 7);
  request.env["NAME"] = "va\xc3lue";
  request.limits.wall_time_ms = std::nullopt;
  request.limits.cpus = 1.5;
  request.limits.output_bytes = 7;
  request.caller_uid = 1000;
  request.caller_pid = 42;
  auto decoded = serve::decode_pooled_request(serve::encode_pooled_request(request));
  REQUIRE_MESSAGE(decoded, (decoded ? "" : decoded.error().what()));
  CHECK(decoded->id == request.id);
  CHECK(decoded->policy == request.policy);
  CHECK(decoded->command == request.command);
  CHECK(decoded->stdin_data == request.stdin_data);
  CHECK(decoded->env == request.env);
  CHECK(decoded->limits.wall_time_ms == std::nullopt);
  CHECK(decoded->limits.cpus == 1.5);
  CHECK(decoded->limits.memory_bytes == request.limits.memory_bytes);
  CHECK(decoded->limits.output_bytes == 7);
  CHECK(decoded->caller_uid == 1000);
  CHECK(decoded->caller_pid == 42);
}

TEST_CASE("pool: a malformed pooled request is an error, not a crash") {
  std::string good = serve::encode_pooled_request(plain_request());
  CHECK_FALSE(serve::decode_pooled_request(""));
  CHECK_FALSE(serve::decode_pooled_request("\xa0"));  // CBOR: an empty map
  // An array announcing 2^63 entries: nlohmann's reader throws even when told not to.
  CHECK_FALSE(serve::decode_pooled_request(std::string("\x9b\x87\x79\x74\x68\x6f\x6e\x67\x63", 9)));
  for (size_t cut = 0; cut < good.size(); cut += 7) CHECK_FALSE(serve::decode_pooled_request(good.substr(0, cut)));
}

TEST_CASE("pool: a pooled request holds only what execve and the limits can take") {
  auto with = [](auto change) {
    serve::RunRequest request = plain_request();
    change(request);
    return serve::decode_pooled_request(serve::encode_pooled_request(request));
  };
  CHECK_FALSE(with([](serve::RunRequest& r) { r.command.push_back(std::string("a\0b", 3)); }));
  CHECK_FALSE(with([](serve::RunRequest& r) { r.command = {""}; }));
  CHECK_FALSE(with([](serve::RunRequest& r) { r.env["A=B"] = "c"; }));
  CHECK_FALSE(with([](serve::RunRequest& r) { r.env[""] = "c"; }));
  CHECK_FALSE(with([](serve::RunRequest& r) { r.env["A"] = std::string("c\0", 2); }));
  CHECK(with([](serve::RunRequest& r) { r.stdin_data = std::string("\0", 1); }));  // bytes, not a C string

  // A count that is not an unsigned integer (a float past uint64's range would be undefined to
  // cast) is refused, as is a uid past uid_t's.
  auto message = json::from_cbor(serve::encode_pooled_request(plain_request()));
  auto refused = [](json changed) {
    std::vector<uint8_t> bytes = json::to_cbor(changed);
    return !serve::decode_pooled_request(std::string(bytes.begin(), bytes.end()));
  };
  json huge = message;
  huge["limits"]["output_bytes"] = 1e300;
  CHECK(refused(huge));
  json negative = message;
  negative["limits"]["core_size_bytes"] = -1;
  CHECK(refused(negative));
  json big_uid = message;
  big_uid["caller_uid"] = uint64_t{1} << 40;
  CHECK(refused(big_uid));
  json text_arg = message;
  text_arg["command"] = json::array({"sh"});  // a text string where bytes belong
  CHECK(refused(text_arg));
}

TEST_CASE("handoff: the command's part of the plan round-trips into the jail's plan") {
  plan::Plan sent;
  sent.argv = {"python3", "-c", "pass"};
  sent.env = {"PATH=/usr/bin", "A=b"};
  sent.path_env = "/usr/bin";
  sent.cwd = "/work";
  sent.rlimits = {{RLIMIT_FSIZE, "RLIMIT_FSIZE", 10, 10}, {RLIMIT_NOFILE, "RLIMIT_NOFILE", 32, 32}};
  plan::Plan jail;
  jail.argv = {"true"};
  jail.hostname = "kept";
  jail.rlimits = {{RLIMIT_FSIZE, "RLIMIT_FSIZE", 100, 100}, {RLIMIT_NOFILE, "RLIMIT_NOFILE", 64, 64}};
  REQUIRE(jail::decode_command(jail::encode_command(sent), jail));
  CHECK(jail.argv == sent.argv);
  CHECK(jail.env == sent.env);
  CHECK(jail.path_env == "/usr/bin");
  CHECK(jail.cwd == "/work");
  REQUIRE(jail.rlimits.size() == 2);
  CHECK(jail.rlimits[0].soft == 10);
  CHECK(std::string(jail.rlimits[1].name) == "RLIMIT_NOFILE");
  CHECK(jail.hostname == "kept");  // the jail's own part is not the command's
}

TEST_CASE("handoff: cut or padded bytes are refused and leave the plan alone") {
  plan::Plan sent;
  sent.argv = {"echo", "x"};
  sent.cwd = "/";
  const std::string bytes = jail::encode_command(sent);
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    plan::Plan jail;
    jail.argv = {"true"};
    CHECK_FALSE(jail::decode_command(bytes.substr(0, cut), jail));
    CHECK(jail.argv == std::vector<std::string>{"true"});
  }
  plan::Plan jail;
  CHECK_FALSE(jail::decode_command(bytes + "x", jail));
  // A count far beyond the bytes that follow.
  std::string huge(8, '\xff');
  CHECK_FALSE(jail::decode_command(huge, jail));
  plan::Plan empty;  // no argv
  empty.cwd = "/";
  CHECK_FALSE(jail::decode_command(jail::encode_command(empty), jail));
}
