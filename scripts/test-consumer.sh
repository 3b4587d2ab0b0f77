#!/usr/bin/env bash
# Builds and runs tests/consumer/ (a program outside sockit that uses the library)
# the ways a project adopts sockit, and checks what each build prints:
#   find_package(sockit) against an install, linking libsockit.so, then libsockit.a
#   pkg-config --cflags --libs sockit, with the compiler alone
#   add_subdirectory() of the source tree
#
# Usage:
#   scripts/test-consumer.sh --install BUILD_DIR   cmake --install BUILD_DIR into a
#                                                  temporary prefix and test that
#   scripts/test-consumer.sh --prefix PREFIX       test an existing install (the
#                                                  unpacked .deb: scripts/test-deb.sh)
#   --subdirectory-build   also compile the library as a subdirectory and run the
#                          consumer (minutes: a full library build). Without it the
#                          subdirectory case is configured and checked only.
# Needs cmake, pkg-config and a C++23 compiler (CXX, default c++); ninja if present.
set -euo pipefail
source_dir=$(cd "$(dirname "$0")/.." && pwd)
consumer_dir=$source_dir/tests/consumer

usage() { echo "usage: $0 [--subdirectory-build] (--install BUILD_DIR | --prefix PREFIX)" >&2; exit 2; }
build_dir="" prefix="" subdirectory_build=0
while [ $# -gt 0 ]; do
  case $1 in
    --install) [ $# -ge 2 ] || usage; build_dir=$2; shift 2 ;;
    --prefix) [ $# -ge 2 ] || usage; prefix=$2; shift 2 ;;
    --subdirectory-build) subdirectory_build=1; shift ;;
    *) usage ;;
  esac
done
if [ -n "$build_dir" ] && [ -n "$prefix" ] || [ -z "$build_dir$prefix" ]; then usage; fi

work=$(mktemp -d "${TMPDIR:-/tmp}/sockit-consumer.XXXXXX")
trap 'rm -rf "$work"' EXIT
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cxx=${CXX:-c++}

fail() { echo "test-consumer: $*" >&2; exit 1; }

# Runs the consumer and checks its two lines: the socket pair carried "ping" and
# the event loop's timer fired (on whichever backend this kernel offers).
run_consumer() {
  local name=$1 binary=$2 output
  output=$(timeout 30 "$binary") || fail "$name: the consumer failed (exit $?): $output"
  grep -qx "socketpair: ping" <<<"$output" || fail "$name: no 'socketpair: ping' in: $output"
  grep -Eqx "event loop: timer fired \(.+\)" <<<"$output" || fail "$name: no timer line in: $output"
  echo "test-consumer: $name: ok ($(tail -n 1 <<<"$output"))"
}

# Which libsockit the binary loads: "shared PATH" or "static".
linked_sockit() {
  local line
  line=$(ldd "$1" | grep 'libsockit\.so' || true)
  if [ -z "$line" ]; then echo static; else echo "shared $(awk '{print $3}' <<<"$line")"; fi
}

build_with_cmake() {  # NAME CMAKE_ARGS...
  local name=$1; shift
  cmake -S "$consumer_dir" -B "$work/$name" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release "$@" \
    >"$work/$name.log" 2>&1 || { cat "$work/$name.log" >&2; fail "$name: configure failed"; }
  cmake --build "$work/$name" >>"$work/$name.log" 2>&1 || { cat "$work/$name.log" >&2; fail "$name: build failed"; }
}

if [ -n "$build_dir" ]; then
  prefix=$work/prefix
  cmake --install "$build_dir" --prefix "$prefix" >"$work/install.log" 2>&1 \
    || { cat "$work/install.log" >&2; fail "cmake --install $build_dir failed"; }
  echo "test-consumer: installed $build_dir into a temporary prefix"
fi
prefix=$(cd "$prefix" && pwd)
for file in include/sockit/sockit.hpp; do
  [ -f "$prefix/$file" ] || fail "the install has no $file"
done
pc_file=$(find "$prefix" -name sockit.pc -path '*/pkgconfig/*' | head -n 1)
[ -n "$pc_file" ] || fail "the install has no pkgconfig/sockit.pc"
lib_dir=$(dirname "$(dirname "$pc_file")")

# find_package, shared (the default sockit::sockit): the binary must load the
# installed libsockit.so, found through the RPATH CMake gives the build tree.
build_with_cmake find_package-shared -DCMAKE_PREFIX_PATH="$prefix"
linked=$(linked_sockit "$work/find_package-shared/consumer")
[[ $linked == shared* ]] && [ "$(readlink -f "${linked#shared }")" = "$(readlink -f "$lib_dir/libsockit.so")" ] \
  || fail "find_package-shared: expected the installed libsockit.so, ldd says: $linked"
run_consumer find_package-shared "$work/find_package-shared/consumer"

# find_package, static: sockit::sockit is libsockit.a; its link line needs liburing
# and threads, which sockitConfig.cmake finds.
build_with_cmake find_package-static -DCMAKE_PREFIX_PATH="$prefix" -DSOCKIT_USE_STATIC_LIBS=ON
linked=$(linked_sockit "$work/find_package-static/consumer")
[ "$linked" = static ] || fail "find_package-static: expected no libsockit.so, ldd says: $linked"
run_consumer find_package-static "$work/find_package-static/consumer"

# pkg-config, the compiler alone (as a Makefile would): shared, with an RPATH
# because the prefix is not on the loader's path.
export PKG_CONFIG_PATH=$(dirname "$pc_file")${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
flags=$(pkg-config --cflags --libs sockit) || fail "pkg-config --cflags --libs sockit failed"
mkdir -p "$work/pkg-config"
# shellcheck disable=SC2086  # the flags are words
"$cxx" -std=c++23 -O1 -o "$work/pkg-config/consumer" "$consumer_dir/main.cpp" $flags \
  -Wl,-rpath,"$(pkg-config --variable=libdir sockit)" || fail "pkg-config: the compile failed"
linked=$(linked_sockit "$work/pkg-config/consumer")
[[ $linked == shared* ]] || fail "pkg-config: expected libsockit.so, ldd says: $linked"
run_consumer pkg-config "$work/pkg-config/consumer"

# add_subdirectory of the source tree: tests, tools and the rest stay off (the
# consumer's CMakeLists.txt checks), sockit::sockit exists.
[ -n "$build_dir" ] || exit 0
if [ $subdirectory_build -eq 1 ]; then
  build_with_cmake subdirectory -DSOCKIT_CONSUMER_USING=subdirectory -DSOCKIT_SOURCE_DIR="$source_dir"
  run_consumer subdirectory "$work/subdirectory/consumer"
else
  cmake -S "$consumer_dir" -B "$work/subdirectory" "${generator[@]}" -DSOCKIT_CONSUMER_USING=subdirectory \
    -DSOCKIT_SOURCE_DIR="$source_dir" >"$work/subdirectory.log" 2>&1 \
    || { cat "$work/subdirectory.log" >&2; fail "subdirectory: configure failed"; }
  echo "test-consumer: subdirectory: configured (only the library; --subdirectory-build compiles and runs it)"
fi
