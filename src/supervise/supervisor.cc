#include "supervise/supervisor.h"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <string>

#include "base/log.h"
#include "jail/sync.h"
#include "seccomp/notify.h"

namespace aj::supervise {
namespace {

constexpr int kCpuPollMs = 50;  // how often the whole-jail cpu_time is checked
constexpr int kRelayGraceMs = 2000;  // relayed output after a timeout: passed on for this long at most

Result<sys::UniqueFd> timer_after_ms(uint64_t ms, bool repeat) {
  sys::UniqueFd fd(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
  if (!fd) return fail_errno("timerfd_create");
  itimerspec spec{};
  spec.it_value.tv_sec = static_cast<time_t>(ms / 1000);
  spec.it_value.tv_nsec = static_cast<long>((ms % 1000) * 1000000);
  if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;
  if (repeat) spec.it_interval = spec.it_value;
  if (::timerfd_settime(fd.get(), 0, &spec, nullptr) != 0) return fail_errno("timerfd_settime");
  return fd;
}

void consume_timer(int fd) {
  uint64_t expirations;
  (void)!::read(fd, &expirations, sizeof expirations);
}

std::string describe_setup_error(const jail::Msg& msg) {
  std::string text = std::string(msg.step_name()) + ": " + std::string(msg.message());
  if (msg.error) text += ": " + errno_text(msg.error);
  return text;
}

class Loop {
 public:
  explicit Loop(Inputs& in) : in_(in) {}

  Supervised run() {
    const Limits& limits = in_.plan.limits;
    // Building the jail has a bound of its own; the wall limit is the command's, armed when the
    // command child reports its execve (on_sync): a slow set-up (a burst of jails) eats no
    // command time, and a set-up that hangs is a setup_error that says so.
    if (in_.plan.setup_timeout_ms) {
      double left = static_cast<double>(in_.plan.setup_timeout_ms) - (sys::monotonic_ms() - in_.started_ms);
      arm(setup_timer_, static_cast<uint64_t>(std::max(1.0, left)), false, "the set-up bound");
    }
    if (limits.cpu_time_ms && in_.cgroup && in_.plan.cgroup.cpu_time)
      arm(cpu_timer_, kCpuPollMs, true, "limits.cpu_time");

    while (!finished()) {
      std::vector<pollfd> fds;
      std::vector<void (Loop::*)()> handlers;
      auto watch = [&](int fd, void (Loop::*handler)()) {
        if (fd < 0) return;
        fds.push_back({fd, POLLIN, 0});
        handlers.push_back(handler);
      };
      if (!init_reaped_) watch(in_.jail.init.pidfd(), &Loop::on_init_exit);
      if (sync_open_) watch(in_.jail.sync.get(), &Loop::on_sync);
      watch(in_.signal_fd, &Loop::on_signal);
      watch(setup_timer_.get(), &Loop::on_setup_timer);
      watch(wall_timer_.get(), &Loop::on_wall_timer);
      watch(cpu_timer_.get(), &Loop::on_cpu_timer);
      watch(relay_grace_.get(), &Loop::on_relay_grace);
      if (listener_ && !listener_fd_done_ && notify_budget_ > 0) watch(listener_->fd(), &Loop::on_notification);
      watch(notify_refill_.get(), &Loop::on_notify_refill);
      if (in_.broker && !broker_done_) watch(in_.broker->fd(), &Loop::on_broker);
      if (capture_open(in_.stdout_capture)) watch((*in_.stdout_capture)->fd(), &Loop::on_stdout);
      if (capture_open(in_.stderr_capture)) watch((*in_.stderr_capture)->fd(), &Loop::on_stderr);

      const size_t fixed = fds.size();
      std::vector<Relay*> relays;
      if (in_.relays)
        for (auto& relay : *in_.relays)
          if (!relay.done()) {
            fds.push_back(relay.wanted());
            relays.push_back(&relay);
          }

      int ready = ::poll(fds.data(), fds.size(), -1);
      if (ready < 0 && errno == EINTR) continue;
      if (ready < 0) {
        log::error_line(std::string("poll: ") + errno_text(errno));
        kill_jail();
        break;
      }
      for (size_t i = 0; i < fixed; ++i)
        if (fds[i].revents) (this->*handlers[i])();
      for (size_t i = 0; i < relays.size(); ++i)
        if (fds[fixed + i].revents) relays[i]->on_ready(fds[fixed + i].revents);
    }
    result_.wall_ms = sys::monotonic_ms() - in_.started_ms;
    finish_broker();
    if (listener_) {
      result_.violations = listener_->violations();
      result_.violations_dropped = listener_->dropped();
    }
    return std::move(result_);
  }

 private:
  // A limit we cannot time is not a limit: without its timer the jail does not run at all.
  void arm(sys::UniqueFd& timer, uint64_t ms, bool repeat, const char* limit) {
    auto fd = timer_after_ms(ms, repeat);
    if (fd) {
      timer = std::move(*fd);
      return;
    }
    if (!result_.observed.setup_error)
      result_.observed.setup_error = std::string(limit) + ": cannot arm its timer: " + fd.error().what();
    kill_jail();
  }

  static bool capture_open(std::optional<BoundedCapture>* capture) { return capture && *capture && (*capture)->open(); }

  // Done when pid 1 is reaped (so every jailed process is gone), the socket is at EOF and
  // both captured streams are drained.
  bool finished() const {
    return init_reaped_ && !sync_open_ && !capture_open(in_.stdout_capture) && !capture_open(in_.stderr_capture) &&
           relays_done();
  }

  bool relays_done() const {
    if (in_.relays)
      for (const auto& relay : *in_.relays)
        if (!relay.done()) return false;
    return true;
  }

  // `which`: only the relays into the jail (it is gone), or all of them (the run is over).
  void stop_relays(bool all) {
    if (in_.relays)
      for (auto& relay : *in_.relays)
        if (all || relay.direction() == Relay::Direction::to_jail) relay.stop();
  }

  void kill_jail() {
    in_.jail.init.kill(SIGKILL);  // pid 1 gone: the kernel kills the whole pid namespace
    if (in_.cgroup) (void)in_.cgroup->kill_all();
  }

  void on_init_exit() {
    auto waited = in_.jail.init.wait();
    init_reaped_ = true;
    stop_relays(false);  // nobody is left to read the caller's stdin
    // A run agentjail ended at its wall limit has no limit left to bound the relayed output
    // still on its way to a caller's reader that may not read: it gets a short grace.
    if (result_.observed.timed_out && !relays_done()) {
      if (auto timer = timer_after_ms(kRelayGraceMs, false)) relay_grace_ = std::move(*timer);
      else stop_relays(true);
    }
    if (waited) result_.init_wait = *waited;
    // Every jailed process is dead now: take what the socket still holds, then stop
    // listening even if an fd copy somewhere keeps it from reaching EOF.
    while (sync_open_) {
      pollfd pfd{in_.jail.sync.get(), POLLIN, 0};
      if (::poll(&pfd, 1, 0) <= 0) break;
      on_sync();
    }
    sync_open_ = false;
    if (listener_) {
      while (true) {
        pollfd pfd{listener_->fd(), POLLIN, 0};
        if (::poll(&pfd, 1, 0) <= 0 || !(pfd.revents & POLLIN)) break;
        if (!on_notification_once()) break;
      }
    }
    listener_fd_done_ = true;
    // No jailed process is left to talk to: close every relay and complete the records.
    finish_broker();
  }

  void finish_broker() {
    if (!in_.broker || broker_done_) return;
    in_.broker->finish();
    broker_done_ = true;
    result_.network = in_.broker->summary();
  }

  void on_broker() { in_.broker->on_ready(); }

  // A listening socket from the init (network.mode = "allowlist"). Without it the jail's
  // network is broken: a setup error, not a run with half its rules.
  void on_net_listener(const jail::Msg& msg, sys::UniqueFd fd) {
    Status added = fd && in_.broker ? Status{} : fail(EPROTO, "a network listener without a socket or a broker");
    if (added) {
      if (!broker_has_listener_) in_.broker->set_jail_ipv6(msg.value != 0);
      broker_has_listener_ = true;
      added = in_.broker->add_listener(std::move(fd));
    }
    if (added) return;
    if (!result_.observed.setup_error) result_.observed.setup_error = "network-allowlist: " + added.error().what();
    kill_jail();
  }

  void on_sync() {
    auto received = jail::recv_msg(in_.jail.sync.get());
    if (!received || !*received) {
      sync_open_ = false;
      return;
    }
    auto& [msg, fd] = **received;
    switch (msg.type) {
      case jail::MsgType::setup_error:
        if (!result_.observed.setup_error) result_.observed.setup_error = describe_setup_error(msg);
        break;
      case jail::MsgType::step_done:
        spdlog::info("step {}: {:.3f} ms", msg.step_name(), static_cast<double>(msg.value) / 1000.0);
        break;
      case jail::MsgType::listener:
        if (fd) listener_.emplace(std::move(fd), in_.plan.seccomp.default_action, in_.plan.seccomp.errno_value);
        break;
      case jail::MsgType::exec_error:
        result_.observed.exec_failure = static_cast<int>(msg.value);
        result_.observed.exec_error =
            std::string(msg.message()) + ": " + (msg.value == 127 ? "command not found" : errno_text(msg.error));
        break;
      case jail::MsgType::started:
        spdlog::info("command started, pid {} in the jail ({:.3f} ms after clone)", msg.value,
                     sys::monotonic_ms() - in_.started_ms);
        break;
      case jail::MsgType::exited:
        result_.observed.command_status = static_cast<int>(msg.value);
        break;
      case jail::MsgType::exec:
        if (result_.observed.command_started) break;
        result_.observed.command_started = true;
        setup_timer_.reset();
        spdlog::info("command's execve {:.3f} ms after clone", sys::monotonic_ms() - in_.started_ms);
        if (in_.plan.limits.wall_time_ms) arm(wall_timer_, *in_.plan.limits.wall_time_ms, false, "limits.wall_time");
        break;
      case jail::MsgType::net_listener: on_net_listener(msg, std::move(fd)); break;
      case jail::MsgType::go:
      case jail::MsgType::waiting:  // a pooled jail's: read before its command was handed over
      case jail::MsgType::stdio:
      case jail::MsgType::command: break;
    }
  }

  void on_signal() {
    signalfd_siginfo info{};
    if (::read(in_.signal_fd, &info, sizeof info) != sizeof info) return;
    if (!result_.observed.interrupted_by) result_.observed.interrupted_by = static_cast<int>(info.ssi_signo);
    kill_jail();
    stop_relays(true);  // a caller's reader that does not read must not keep agentjail from ending
  }

  void on_setup_timer() {
    consume_timer(setup_timer_.get());
    setup_timer_.reset();
    if (init_reaped_ || result_.observed.command_started) return;
    if (!result_.observed.setup_error)
      result_.observed.setup_error = "the jail's set-up did not finish within " +
                                     std::to_string(in_.plan.setup_timeout_ms) +
                                     " ms (building the jail is bounded apart from limits.wall_time, which counts "
                                     "from the command's start); the jail was killed";
    kill_jail();
  }

  void on_wall_timer() {
    consume_timer(wall_timer_.get());
    wall_timer_.reset();
    // The jail is gone but its output still waits for the caller's reader: the wall limit
    // bounds that too.
    if (init_reaped_) stop_relays(true);
    if (init_reaped_ || result_.observed.command_status) return;
    result_.observed.timed_out = true;
    kill_jail();
  }

  void on_relay_grace() {
    consume_timer(relay_grace_.get());
    relay_grace_.reset();
    stop_relays(true);
  }

  void on_cpu_timer() {
    consume_timer(cpu_timer_.get());
    auto used = in_.cgroup->cpu_ms();
    if (!used) {
      // Said, not hidden: from here on only the wall clock bounds the run.
      cpu_timer_.reset();
      result_.warnings.push_back("limits.cpu_time: the jail cgroup's CPU time could not be read; the limit was not "
                                 "enforced after that");
      return;
    }
    if (*used < static_cast<double>(*in_.plan.limits.cpu_time_ms)) return;
    cpu_timer_.reset();
    if (result_.observed.command_status) return;
    result_.observed.cpu_exceeded = true;
    kill_jail();
  }

  void on_notification() {
    if (!on_notification_once()) {
      listener_fd_done_ = true;
      return;
    }
    if (--notify_budget_ > 0) return;
    // Out of budget: stop watching the listener until the refill; the callers wait meanwhile.
    result_.notifications_throttled = true;
    // Without the refill timer the listener would never be watched again and the callers would
    // hang until wall_time: answer at full speed instead.
    if (auto timer = timer_after_ms(kNotifyRefillMs, false)) notify_refill_ = std::move(*timer);
    else notify_budget_ = kNotifyPerRefill;
  }

  void on_notify_refill() {
    consume_timer(notify_refill_.get());
    notify_refill_.reset();
    notify_budget_ = kNotifyPerRefill;
  }

  // Answers one seccomp notification; false once the listener is finished.
  bool on_notification_once() {
    auto event = listener_->handle_one();
    if (!event) return false;
    switch (*event) {
      case seccomp::Listener::Event::kill_jail:
        if (!result_.observed.seccomp_kill && !result_.observed.command_status) {
          result_.observed.seccomp_kill = true;
          kill_jail();
        }
        return true;
      case seccomp::Listener::Event::closed: return false;
      default: return true;
    }
  }

  void on_stdout() { drain(*in_.stdout_capture); }
  void on_stderr() { drain(*in_.stderr_capture); }
  void drain(std::optional<BoundedCapture>& capture) {
    if (auto ok = capture->drain(); !ok) {
      log::error_line(ok.error().what());
      capture.reset();
    }
  }

  Inputs& in_;
  Supervised result_;
  sys::UniqueFd setup_timer_, wall_timer_, cpu_timer_, notify_refill_, relay_grace_;
  uint64_t notify_budget_ = kNotifyBurst;
  std::optional<seccomp::Listener> listener_;
  bool init_reaped_ = false;
  bool sync_open_ = true;
  bool listener_fd_done_ = false;
  bool broker_done_ = false, broker_has_listener_ = false;
};

}  // namespace

Supervised run(Inputs& inputs) { return Loop(inputs).run(); }

}  // namespace aj::supervise
