// The four commands GitLab Runner's custom executor calls (ci/gitlab.h has the protocol's
// pure part). Each returns the exit code the runner expects.
#pragma once

#include "ci/gitlab.h"

namespace aj::ci::gitlab {

int config(const Settings& settings, const Env& env);
int prepare(const Settings& settings, const Env& env);
int run(const Settings& settings, const Env& env, const std::string& script, const std::string& stage);
int cleanup(const Settings& settings, const Env& env);

}  // namespace aj::ci::gitlab
