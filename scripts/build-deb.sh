#!/bin/sh
# Builds the agentjail Debian package from this tree and checks it with lintian.
# Usage: scripts/build-deb.sh [OUT_DIR]   (default: out/)
#
# dpkg-buildpackage wants debian/ at the top of the source tree; the repository keeps it in
# packaging/debian/ so that the tree stays an ordinary CMake project. We copy the tree (the
# files git knows, plus new files it does not ignore) to a scratch directory, put
# packaging/debian there as debian/, build the binary package, and run lintian on it.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
out=${1:-out}
mkdir -p "$out"
out=$(cd "$out" && pwd)

scratch=$(mktemp -d "${TMPDIR:-/tmp}/agentjail-deb.XXXXXX")
trap 'rm -rf "$scratch"' EXIT INT TERM
src="$scratch/agentjail"
mkdir "$src"

if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git -C "$top" ls-files -z --cached --others --exclude-standard |
    (cd "$top" && xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh) |
    tar -C "$top" --null -T - -cf - | tar -C "$src" -xf -
else
  tar -C "$top" --exclude='./build' --exclude='./build-*' --exclude='./out' --exclude='./.git' -cf - . |
    tar -C "$src" -xf -
fi
rm -rf "$src/debian"
cp -r "$src/packaging/debian" "$src/debian"

(cd "$src" && dpkg-buildpackage -b -us -uc -j"$(nproc)")

for f in "$scratch"/*.deb "$scratch"/*.buildinfo "$scratch"/*.changes; do
  [ -e "$f" ] && cp "$f" "$out/"
done
deb=$(ls "$scratch"/agentjail_*.deb | head -n 1)
echo "build-deb: $out/$(basename "$deb")"

# lintian: errors fail the build; warnings are printed and allowed.
lintian --fail-on error --tag-display-limit 0 "$deb"
echo "build-deb: lintian found no errors"
