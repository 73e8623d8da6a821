#!/bin/sh
# The default command of scripts/vm-test.sh, run as root in the cgroup-v2 VM: the integration
# tests that matter for cgroups and doctor, as root (cgroup v2 enforces) and as an ordinary
# user (no delegation: the rlimit fallback), the Landlock tests (the 6.1 kernel's older ABI),
# the workspace tests (a 9p root: no idmapped mounts, the fallback), plus a smoke set of the run report. AGENTJAIL,
# AGENTJAIL_PROBES and AGENTJAIL_SOURCE_DIR are set by the VM's command script.
set -u
cd "$AGENTJAIL_SOURCE_DIR"
pytest() { /usr/bin/python3 -m pytest -q -rs --color=no -p no:cacheprovider "$@"; }

"$AGENTJAIL" doctor
echo "== as root"
pytest tests/integration/test_cgroup.py tests/integration/test_doctor.py tests/integration/test_landlock.py \
  tests/integration/test_workspace.py
root=$?
echo "== as uid 65534"
# The repository may be where only root can enter (a clone in a mktemp -d, or under /root, seen
# here over 9p with its modes): the ordinary user runs copies of the tests, of agentjail and of
# the probes, staged in a directory of the guest's /tmp that everyone can read.
stage=$(mktemp -d /tmp/agentjail-user.XXXXXX)
mkdir "$stage/tests" "$stage/probe"
cp -R tests/integration "$stage/tests/"
cp "$AGENTJAIL" "$stage/agentjail"
if [ -d "$AGENTJAIL_PROBES" ]; then cp -R "$AGENTJAIL_PROBES"/. "$stage/probe/"; fi
rm -rf "$stage/tests/integration/__pycache__"
chmod -R a+rX "$stage"
chmod 755 "$stage" "$stage/agentjail"
(cd /tmp && setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
  env HOME=/tmp AGENTJAIL="$stage/agentjail" AGENTJAIL_PROBES="$stage/probe" AGENTJAIL_SOURCE_DIR="$stage" \
  /usr/bin/python3 -m pytest -q -rs --color=no -p no:cacheprovider \
  "$stage/tests/integration/test_cgroup.py" "$stage/tests/integration/test_doctor.py" \
  "$stage/tests/integration/test_landlock.py" "$stage/tests/integration/test_workspace.py")
user=$?
rm -rf "$stage"
echo "== smoke: run report"
# Emulated CPUs are ~10x slower: the 1 GiB output flood meets the default 10 s cpu_time there.
pytest tests/integration/test_run_report.py -k "not gibibyte"
smoke=$?
echo "vm tests: root $root, uid 65534 $user, smoke $smoke"
[ "$root" -eq 0 ] && [ "$user" -eq 0 ] && [ "$smoke" -eq 0 ]
