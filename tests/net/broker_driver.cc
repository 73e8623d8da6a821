// A test and benchmark driver for the network broker, without a jail: it makes a network
// namespace the way the jail's init will (net/jail_side.h), runs a command in it, and relays
// for it with a Broker from the namespace it was started in. Run it where it may create
// namespaces (as root, or under `unshare -rn`).
//
//   broker_driver --config CONFIG.json [--report OUT.json] [--resolv-conf FILE] [--direct]
//                 -- COMMAND [ARG...]
//
// CONFIG.json has the fields of net::Config ("allow", "resolve", "max_connections",
// "max_bytes", "ipv6", "upstream_servers", "first_bytes_ms", "server_first_ms", "connect_ms",
// "resolve_ms"). --resolv-conf binds FILE over /etc/resolv.conf for the command (in a mount
// namespace of its own), as the jail will. --direct runs the command in the driver's own
// namespace instead (the benchmark's baseline). Refusals are printed as the supervisor will
// print them; the exit status is the command's.
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "net/broker.h"
#include "net/jail_side.h"
#include "sys/process.h"

using namespace aj;

namespace {

[[noreturn]] void die(const std::string& message) {
  std::cerr << "broker_driver: " << message << "\n";
  std::exit(125);
}

net::Config read_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) die("cannot read " + path);
  nlohmann::json j = nlohmann::json::parse(in);
  net::Config c;
  c.allow = j.value("allow", std::vector<std::string>{});
  c.resolve = j.value("resolve", std::map<std::string, std::string>{});
  if (j.contains("max_connections"))
    c.max_connections = j["max_connections"].is_null() ? std::nullopt : std::optional<uint64_t>(j["max_connections"]);
  if (j.contains("max_bytes"))
    c.max_bytes = j["max_bytes"].is_null() ? std::nullopt : std::optional<uint64_t>(j["max_bytes"]);
  c.ipv6 = j.value("ipv6", true);
  c.upstream_servers = j.value("upstream_servers", std::vector<std::string>{});
  c.first_bytes_ms = j.value("first_bytes_ms", c.first_bytes_ms);
  c.server_first_ms = j.value("server_first_ms", c.server_first_ms);
  c.connect_ms = j.value("connect_ms", c.connect_ms);
  c.resolve_ms = j.value("resolve_ms", c.resolve_ms);
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path, report_path, resolv_conf;
  bool direct = false;
  int i = 1;
  for (; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") {
      ++i;
      break;
    }
    if (arg == "--config" && i + 1 < argc) config_path = argv[++i];
    else if (arg == "--report" && i + 1 < argc) report_path = argv[++i];
    else if (arg == "--resolv-conf" && i + 1 < argc) resolv_conf = argv[++i];
    else if (arg == "--direct") direct = true;
    else die("usage: broker_driver --config FILE [--report FILE] [--resolv-conf FILE] [--direct] -- COMMAND...");
  }
  if (config_path.empty() || i >= argc) die("need --config and a command");
  net::Config config = read_config(config_path);
  double started = sys::monotonic_ms();

  // The jail's side: a namespace with lo, the AnyIP routes and the listeners.
  sys::UniqueFd outer(open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!outer) die("open /proc/self/ns/net: " + errno_text(errno));
  if (unshare(CLONE_NEWNET) != 0) die("unshare(CLONE_NEWNET): " + errno_text(errno) + " (run as root or under unshare -rn)");
  auto anyip = net::bring_up_anyip();
  if (!anyip) die(anyip.error().what());
  auto ports = net::listener_ports(config);
  if (!ports) die(ports.error().what());
  auto listeners = net::make_listeners(*ports, anyip->ipv6);
  if (!listeners) die(listeners.error().what());
  sys::UniqueFd jail_ns(open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!jail_ns) die("open jail netns: " + errno_text(errno));
  if (setns(outer.get(), CLONE_NEWNET) != 0) die("setns back: " + errno_text(errno));

  // The supervisor's side.
  rlimit nofile{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }
  net::Broker::Hooks hooks;
  hooks.on_first_denial = [](const net::Denial& d) { std::cerr << "agentjail: " << net::describe(d) << "\n"; };
  if (getenv("BROKER_DRIVER_VERBOSE")) hooks.on_log = [](const std::string& line) { std::cerr << "broker: " << line << "\n"; };
  auto broker = net::Broker::create(config, started, hooks);
  if (!broker) die(broker.error().what());
  // As the supervisor learns it from the jail's init: after create().
  if (!anyip->ipv6) (*broker)->set_jail_ipv6(false);
  for (auto& fd : *listeners)
    if (auto added = (*broker)->add_listener(std::move(fd)); !added) die(added.error().what());

  pid_t child = fork();
  if (child < 0) die("fork: " + errno_text(errno));
  if (child == 0) {
    if (!direct && setns(jail_ns.get(), CLONE_NEWNET) != 0) _exit(126);
    if (!resolv_conf.empty()) {
      if (unshare(CLONE_NEWNS) != 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
          mount(resolv_conf.c_str(), "/etc/resolv.conf", nullptr, MS_BIND, nullptr) != 0) {
        perror("broker_driver: resolv.conf");
        _exit(126);
      }
    }
    execvp(argv[i], argv + i);
    perror("broker_driver: exec");
    _exit(127);
  }
  jail_ns.reset();
  int pidfd = int(syscall(SYS_pidfd_open, child, 0));
  if (pidfd < 0) die("pidfd_open: " + errno_text(errno));
  for (;;) {
    pollfd fds[2] = {{(*broker)->fd(), POLLIN, 0}, {pidfd, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      die("poll: " + errno_text(errno));
    }
    if (fds[0].revents) (*broker)->on_ready();
    if (fds[1].revents) break;
  }
  int status = 0;
  waitpid(child, &status, 0);
  (*broker)->finish();
  std::string report = net::to_json((*broker)->summary()).dump(2) + "\n";
  if (report_path.empty()) {
    std::cout << report;
  } else {
    std::ofstream(report_path) << report;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}
