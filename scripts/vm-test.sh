#!/bin/bash
# Runs a command as root in a small VM with real cgroup v2 (dev machines and CI are often
# cgroup-hybrid): QEMU with TCG boots Debian's own 6.1 kernel with a busybox initramfs that
# mounts this machine's / read-only over 9p and switch_roots into it, with a tmpfs /tmp and a
# cgroup2 hierarchy that has every controller enabled. The build is used in place.
#
# Usage: scripts/vm-test.sh [BUILD_DIR] [-- COMMAND [ARG...]]
#   BUILD_DIR  default: build. Must hold agentjail (and probe/ for tests that use probes).
#   COMMAND    default: scripts/vm/guest-tests.sh (the cgroup, doctor and report tests).
# Exits with the guest command's status (125 when the VM itself failed).
#
# Environment: AGENTJAIL_VM_CACHE (kernel download and unpack, reused; default
# /var/cache/agentjail-vm), AGENTJAIL_VM_TIMEOUT (seconds, default 900), AGENTJAIL_VM_CPUS (2),
# AGENTJAIL_VM_MEMORY (MiB, 2048). The guest's console is printed and kept in BUILD_DIR/vm-test.log.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build=build
if [ $# -gt 0 ] && [ "$1" != "--" ]; then
  build=$1
  shift
fi
if [ $# -gt 0 ] && [ "$1" = "--" ]; then shift; fi
case "$build" in /*) ;; *) build=$repo/$build ;; esac
build=$(cd "$build" && pwd)

cache=${AGENTJAIL_VM_CACHE:-/var/cache/agentjail-vm}
timeout_s=${AGENTJAIL_VM_TIMEOUT:-900}
cpus=${AGENTJAIL_VM_CPUS:-2}
memory=${AGENTJAIL_VM_MEMORY:-2048}
log=$build/vm-test.log

die() {
  echo "vm-test: $*" >&2
  exit 125
}

for tool in qemu-system-x86_64 cpio depmod modprobe gzip apt-get apt-cache dpkg timeout; do
  command -v "$tool" >/dev/null || die "$tool is missing (scripts/install-deps.sh installs it)"
done
busybox=/bin/busybox
[ -x "$busybox" ] || die "$busybox is missing (package busybox-static)"
[ -x "$build/agentjail" ] || die "$build/agentjail is not built"

# --- Kernel: Debian's newest 6.1 unsigned image, downloaded and unpacked once. ---------------
mkdir -p "$cache"
kernel_root=$(ls -d "$cache"/root-6.1.0-*-amd64 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$kernel_root" ]; then
  package=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64-unsigned$' | awk '{print $1}' |
            sort -V | tail -n 1)
  [ -n "$package" ] || die "no linux-image-6.1.0-*-amd64-unsigned package is known to apt (apt-get update?)"
  version=${package#linux-image-}
  version=${version%-unsigned}
  echo "vm-test: downloading $package into $cache"
  (cd "$cache" && apt-get download -q "$package" >/dev/null) || die "apt-get download $package failed"
  deb=$(ls "$cache/${package}"_*.deb | sort -V | tail -n 1)
  unpack=$(mktemp -d "$cache/unpack.XXXXXX")
  dpkg -x "$deb" "$unpack"
  depmod -b "$unpack" "$version"
  mv "$unpack" "$cache/root-$version"
  rm -f "$deb"
  kernel_root=$cache/root-$version
fi
version=${kernel_root##*/root-}
vmlinuz=$kernel_root/boot/vmlinuz-$version
[ -r "$vmlinuz" ] || die "$vmlinuz is missing; remove $kernel_root to fetch it again"

# --- Initramfs: busybox, the modules for 9p over virtio, /init and the command. --------------
work=$(mktemp -d "${TMPDIR:-/tmp}/agentjail-vm.XXXXXX")
trap 'rm -rf "$work"' EXIT
initramfs=$work/root
mkdir -p "$initramfs"/{bin,dev,proc,sys,modules,newroot}
cp "$busybox" "$initramfs/bin/busybox"
cp "$repo/scripts/vm/init" "$initramfs/init"
chmod 755 "$initramfs/init"
: >"$initramfs/modules.list"
for module in 9p 9pnet_virtio virtio_pci virtio_rng; do
  modprobe -d "$kernel_root" -S "$version" --show-depends "$module" | awk '$1 == "insmod" {print $2}'
done | awk '!seen[$0]++' | while read -r path; do
  cp "$path" "$initramfs/modules/"
  basename "$path" >>"$initramfs/modules.list"
done
[ -s "$initramfs/modules.list" ] || die "no modules resolved for 9p and virtio in $kernel_root"
# The guest's /tmp is a fresh tmpfs; paths under the host's /tmp it needs are bound back in.
: >"$initramfs/keep.list"
for path in "$repo" "$build"; do
  case "$path/" in /tmp/*) echo "$path" >>"$initramfs/keep.list" ;; esac
done

quote() {
  local out="" word
  for word in "$@"; do out+="'${word//\'/\'\\\'\'}' "; done
  printf '%s' "$out"
}
if [ $# -gt 0 ]; then
  command_line=$(quote "$@")
else
  command_line=$(quote /bin/sh "$repo/scripts/vm/guest-tests.sh")
fi
cat >"$initramfs/cmd" <<CMD
#!/bin/sh
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp LANG=C.UTF-8
export PYTHONDONTWRITEBYTECODE=1 TMPDIR=/tmp
export AGENTJAIL=$(quote "$build/agentjail") AGENTJAIL_PROBES=$(quote "$build/probe") AGENTJAIL_SOURCE_DIR=$(quote "$repo")
cd /tmp
echo "agentjail-vm: kernel \$(uname -r), $cpus CPUs; cgroup2 controllers: \$(cat /sys/fs/cgroup/cgroup.subtree_control)"
$command_line
status=\$?
echo "AGENTJAIL-VM-STATUS=\$status"
sync
/bin/busybox poweroff -f || echo o >/proc/sysrq-trigger
CMD
initrd=$work/initramfs.cpio.gz
(cd "$initramfs" && find . | cpio -o -H newc --quiet | gzip -1) >"$initrd"

# --- Boot. KVM hangs on these hosts; TCG with one thread per vCPU is reliable. ---------------
echo "vm-test: booting $version (TCG, $cpus CPUs, ${memory} MiB), timeout ${timeout_s}s; console in $log"
set +e
timeout --foreground -k 10 "$timeout_s" qemu-system-x86_64 \
  -machine pc -accel tcg,thread=multi -cpu max -smp "$cpus" -m "$memory" \
  -nodefaults -no-user-config -display none -monitor none -serial stdio -no-reboot \
  -kernel "$vmlinuz" -initrd "$initrd" \
  -append "console=ttyS0 quiet loglevel=3 panic=-1 rdinit=/init" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
  -device virtio-rng-pci </dev/null 2>&1 | tr -d '\r' | tee "$log"
qemu_status=${PIPESTATUS[0]}
set -e

status=$(sed -n 's/^AGENTJAIL-VM-STATUS=\([0-9]*\)$/\1/p' "$log" | tail -n 1)
if [ -z "$status" ]; then
  [ "$qemu_status" -eq 124 ] && die "the VM timed out after ${timeout_s}s (AGENTJAIL_VM_TIMEOUT); see $log"
  die "the VM ended (qemu status $qemu_status) without reporting the command's status; see $log"
fi
echo "vm-test: guest command exited $status"
exit "$status"
