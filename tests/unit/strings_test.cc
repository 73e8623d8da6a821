#include "base/strings.h"

#include <doctest/doctest.h>

#include "base/error.h"

using namespace aj;

TEST_CASE("split keeps empty fields") {
  CHECK(split("a::b", ':') == std::vector<std::string>{"a", "", "b"});
  CHECK(split("", ':') == std::vector<std::string>{""});
}

TEST_CASE("closest_match suggests only likely typos") {
  std::vector<std::string> keys = {"memory", "pids", "wall_time", "cpu_time"};
  CHECK(closest_match("memroy", keys) == "memory");
  CHECK(closest_match("wall_tim", keys) == "wall_time");
  CHECK_FALSE(closest_match("banana", keys).has_value());
}

TEST_CASE("errors read outermost first") {
  Error error{2, "bind /usr -> /newroot/usr"};
  Error outer = error.context("mount /usr").context("build-root");
  CHECK(outer.what() == "build-root: mount /usr: bind /usr -> /newroot/usr: No such file or directory");
}
