#include "serve/scratch.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "base/strings.h"
#include "sys/fd.h"
#include "sys/files.h"

namespace aj::serve {
namespace {

Status write_new_file(const std::string& path, std::string_view content, mode_t mode) {
  sys::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!fd) return fail_errno("create " + path);
  return sys::write_all(fd.get(), content);
}

std::vector<std::string> parts_of(const std::string& path) { return split(std::string_view(path).substr(1), '/'); }

}  // namespace

ApiResult<std::vector<std::string>> scratch_tops(const RunRequest& request) {
  std::vector<std::string> all, tops;
  for (const auto& [p, c] : request.files) all.push_back(p);
  all.insert(all.end(), request.collect.begin(), request.collect.end());
  for (const std::string& path : all) {
    auto parts = parts_of(path);
    if (parts.size() < 2)
      return std::unexpected(ApiError{400, path + ": files and collected paths must be inside a directory (such as /work)", std::nullopt});
    for (const char* system : {"usr", "bin", "sbin", "lib", "lib32", "lib64", "etc", "proc", "dev", "sys"})
      if (parts[0] == system)
        return std::unexpected(ApiError{400, path + ": /" + parts[0] + " is the system's, not a place for files", std::nullopt});
    if (std::find(tops.begin(), tops.end(), parts[0]) == tops.end()) tops.push_back(parts[0]);
  }
  return tops;
}

Result<std::string> make_scratch(const RunRequest& request, const std::vector<std::string>& tops, uint32_t uid,
                                 uint32_t gid, std::map<std::string, std::string>& binds) {
  char made[] = "/tmp/agentjail-serve-XXXXXX";
  if (!::mkdtemp(made)) return fail_errno("scratch directory");
  std::string scratch = made;
  auto give_up = [&](Error error) -> Result<std::string> {
    std::error_code ignored;
    std::filesystem::remove_all(scratch, ignored);
    return std::unexpected(std::move(error));
  };
  for (const std::string& top : tops) {
    std::string host = scratch + "/" + top;
    if (::mkdir(host.c_str(), 0700) != 0) return give_up(Error{errno, "mkdir " + host});
    binds[top] = host;
  }
  for (const auto& [path, content] : request.files) {
    auto parts = parts_of(path);
    std::string host = binds[parts[0]];
    for (size_t i = 1; i + 1 < parts.size(); ++i) {
      host += "/" + parts[i];
      if (::mkdir(host.c_str(), 0755) != 0 && errno != EEXIST)
        return give_up(Error{errno, "mkdir " + host});
    }
    if (auto written = write_new_file(host + "/" + parts.back(), content, 0644); !written)
      return give_up(written.error().context("files"));
  }
  if (::geteuid() == 0) {
    // Run by root, the jail is an unprivileged host uid: give it the scratch, nobody else.
    ::chmod(scratch.c_str(), 0711);
    for (const auto& entry : std::filesystem::recursive_directory_iterator(scratch))
      ::lchown(entry.path().c_str(), uid, gid);
  }
  return scratch;
}

std::optional<std::string> read_inside(const std::string& base, const std::vector<std::string>& parts, size_t max) {
  sys::UniqueFd dir(::open(base.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir || parts.empty()) return std::nullopt;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    dir.reset(::openat(dir.get(), parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir) return std::nullopt;
  }
  sys::UniqueFd file(::openat(dir.get(), parts.back().c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat st {};
  if (!file || ::fstat(file.get(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  std::string data;
  char buffer[65536];
  ssize_t n;
  while ((n = ::read(file.get(), buffer, sizeof buffer)) > 0) {
    data.append(buffer, static_cast<size_t>(n));
    if (data.size() > max) return std::nullopt;
  }
  return data;
}

CollectedFiles collect_files(const RunRequest& request, const std::map<std::string, std::string>& binds, size_t max) {
  CollectedFiles files;
  for (const std::string& path : request.collect) {
    auto parts = parts_of(path);
    auto bound = binds.find(parts[0]);
    files[path] = bound == binds.end() ? std::nullopt : read_inside(bound->second, {parts.begin() + 1, parts.end()}, max);
  }
  return files;
}

}  // namespace aj::serve
