#!/usr/bin/env bash
# Writes the CLI's man pages into OUTDIR from the program's own help, with
# help2man: sockit(1) from `sockit --help`, and sockit-COMMAND(1) from
# `sockit COMMAND --help` for each command `sockit --help` lists. Deriving the list
# from the program keeps a new command from going without a page.
# Usage: scripts/man-pages.sh SOCKIT_BIN OUTDIR   (the build runs it: target sockit_man)
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 SOCKIT_BIN OUTDIR" >&2; exit 2; }
bin=$1 out=$2
mkdir -p "$out"
rm -f "$out"/*.1 "$out"/*.1.gz

# "sockit 0.1.0" -> 0.1.0
version=$("$bin" --version)
version=${version#sockit }

# The "Subcommands:" block of --help: "  NAME   Description" until the blank line.
commands=()
summaries=()
while IFS= read -r line; do
  [[ $line =~ ^\ +([a-z][a-z0-9-]*)\ +(.+)$ ]] || continue
  commands+=("${BASH_REMATCH[1]}")
  summaries+=("${BASH_REMATCH[2]}")
done < <("$bin" --help | sed -n '/^Subcommands:$/,/^$/p')
[ ${#commands[@]} -gt 0 ] || { echo "sockit: no commands found in '$bin --help'" >&2; exit 1; }

see_also=$(mktemp)
trap 'rm -f "$see_also"' EXIT
{
  echo "[SEE ALSO]"
  for command in "${commands[@]}"; do echo ".BR sockit-$command (1)"; done
} >"$see_also"

help2man --no-info --section=1 --source="sockit $version" \
  --name="connect to, listen on and echo over Unix, TCP and UDP sockets" \
  --include="$see_also" --output="$out/sockit.1" "$bin"

for i in "${!commands[@]}"; do
  command=${commands[$i]}
  printf '[SEE ALSO]\n.BR sockit (1)\n' >"$see_also"
  # --version-string names the page sockit-COMMAND; the help is the command's own.
  help2man --no-info --section=1 --source="sockit $version" \
    --version-string="sockit-$command $version" --name="${summaries[$i]}" \
    --help-option="$command --help" --include="$see_also" \
    --output="$out/sockit-$command.1" "$bin"
done

# Installed compressed, as Debian's policy asks (gzip -9n: no name or time stamp
# inside, so a rebuild makes the same bytes); the plain pages stay for `man -l`.
for page in "$out"/*.1; do gzip -9n -c "$page" >"$page.gz"; done
