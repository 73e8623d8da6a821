#include "mcp/stdio.h"

#include <poll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace aj::mcp {

Status serve_stdio(Session& session, serve::Executor& executor, int in_fd, int signal_fd, size_t max_line) {
  std::string buffer;
  bool skipping = false;  // inside a line that was too long: drop bytes up to its newline
  bool open = true;
  bool cancelled = false;
  while (open || session.calls_running() > 0 || !executor.idle()) {
    if (!open && !cancelled) {
      session.cancel_all();  // nobody is left to read the answers of runs still going
      executor.begin_shutdown();  // and no more jails: the pooled ones waiting go too
      cancelled = true;
    }
    std::vector<pollfd> fds;
    if (open) fds.push_back({in_fd, POLLIN, 0});
    if (open && signal_fd >= 0) fds.push_back({signal_fd, POLLIN, 0});
    const size_t ours = fds.size();
    executor.poll_fds(fds);
    int ready = ::poll(fds.data(), fds.size(), executor.next_tick_ms());
    if (ready < 0 && errno != EINTR) return fail_errno("poll");
    for (size_t i = 0; i < ours; ++i) {
      if (!fds[i].revents) continue;
      if (fds[i].fd == signal_fd) {
        signalfd_siginfo info;
        while (::read(signal_fd, &info, sizeof info) == sizeof info) {}
        open = false;
        continue;
      }
      char chunk[65536];
      ssize_t n = ::read(in_fd, chunk, sizeof chunk);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) {
        if (!skipping && !buffer.empty()) session.on_line(buffer);  // a last message without its newline
        buffer.clear();
        open = false;
        continue;
      }
      std::string_view data(chunk, static_cast<size_t>(n));
      while (!data.empty()) {
        size_t newline = data.find('\n');
        std::string_view piece = data.substr(0, newline);
        if (!skipping) buffer.append(piece);
        if (!skipping && buffer.size() > max_line) {
          session.on_oversized_line(max_line);
          buffer.clear();
          skipping = true;
        }
        if (newline == std::string_view::npos) break;
        if (!skipping) session.on_line(buffer);
        buffer.clear();
        skipping = false;
        data.remove_prefix(newline + 1);
      }
    }
    for (size_t i = ours; i < fds.size(); ++i)
      if (fds[i].revents) executor.on_ready(fds[i].fd, fds[i].revents);
    executor.on_tick();
  }
  return {};
}

}  // namespace aj::mcp
