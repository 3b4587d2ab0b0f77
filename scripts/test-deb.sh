#!/usr/bin/env bash
# Builds the Debian packages of a build (cpack -G DEB), unpacks them into a
# throwaway root with dpkg-deb -x (nothing is installed on this machine, so no
# other test can pick the packaged files up by accident), checks what each holds,
# runs the packaged `sockit --version` and reads its man page, and builds the
# consumer project against the unpacked root (scripts/test-consumer.sh --prefix).
# Usage: scripts/test-deb.sh BUILD_DIR        (make test-package)
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
source_dir=$(cd "$(dirname "$0")/.." && pwd)
build_dir=$(cd "$1" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/sockit-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "test-deb: $*" >&2; exit 1; }

version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build_dir/CMakeCache.txt")
[ -n "$version" ] || fail "no project version in $build_dir/CMakeCache.txt"
(cd "$build_dir" && cpack -G DEB -B "$work/packages" >"$work/cpack.log" 2>&1) \
  || { cat "$work/cpack.log" >&2; fail "cpack -G DEB failed"; }

# Each package, and a file it must hold (a path in the unpacked root).
declare -A must_hold=(
  [sockit]=usr/bin/sockit
  [libsockit-dev]=usr/include/sockit/sockit.hpp
)
library_deb=$(cd "$work/packages" && ls libsockit[0-9]*_"$version"_*.deb 2>/dev/null || true)
[ -n "$library_deb" ] || fail "no libsockitSOVERSION package was built"
must_hold[${library_deb%%_*}]=usr/lib
root=$work/root
for package in "${!must_hold[@]}"; do
  deb=$(ls "$work/packages/${package}_${version}_"*.deb 2>/dev/null || true)
  [ -n "$deb" ] || fail "no package $package $version in: $(ls "$work/packages")"
  dpkg-deb -x "$deb" "$root"
  echo "test-deb: $(basename "$deb"): $(dpkg-deb -f "$deb" Depends)"
done
for file in "${must_hold[@]}"; do [ -e "$root/$file" ] || fail "no $file in the packages"; done
# Debian's multiarch layout: usr/lib/<triplet>/ (dpkg-architecture's
# DEB_HOST_MULTIARCH, the same triplet CMake found for the compiler).
multiarch=$(sed -n 's/^CMAKE_LIBRARY_ARCHITECTURE:[A-Z]*=//p' "$build_dir/CMakeCache.txt")
[ -n "$multiarch" ] || multiarch=$(gcc -print-multiarch)
lib=usr/lib/$multiarch
for pattern in "$lib/libsockit.so.*" "$lib/libsockit.a" "$lib/cmake/sockit/sockitConfig.cmake" \
               "$lib/cmake/sockit/sockitConfigVersion.cmake" "$lib/pkgconfig/sockit.pc" \
               'usr/share/man/man1/sockit.1.gz' 'usr/share/man/man1/sockit-connect.1.gz'; do
  compgen -G "$root/$pattern" >/dev/null || fail "no $pattern in the packages"
done

# The packaged CLI links libsockit statically; it needs only system libraries.
[ "$("$root/usr/bin/sockit" --version)" = "sockit $version" ] || fail "the packaged sockit --version is wrong"
echo "test-deb: packaged sockit --version: $("$root/usr/bin/sockit" --version)"
zgrep -q '^\.TH SOCKIT "1"' "$root/usr/share/man/man1/sockit.1.gz" && zgrep -q 'sockit-connect' "$root/usr/share/man/man1/sockit.1.gz" \
  || fail "the packaged sockit(1) is not a man page that names the command pages"

"$source_dir/scripts/test-consumer.sh" --prefix "$root/usr"
