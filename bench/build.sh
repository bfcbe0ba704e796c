#!/bin/sh
# Builds the benchmark's C tools (gen, sink, mroute) into build/bench/.
# Interim: once binding.gyp has executable targets for them, `npm ci` builds them at install into
# build/Release/ and this script is only a convenience for working on the tools.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/build/bench"
mkdir -p "$out"
for tool in gen sink mroute; do
  ${CC:-cc} -std=gnu11 -O2 -Wall -Wextra -Werror -o "$out/$tool" "$root/bench/src/$tool.c"
done
echo "built $out/gen $out/sink $out/mroute"
