#!/usr/bin/env bash
# The layers call downwards only (docs/architecture.md): app, then routes,
# then middleware, then models, then lib. A file may include headers of its
# own layer or a lower one. Prints "layers: N files checked" and exits 1
# naming every include that points upwards and is not in KNOWN below.
#
# Given a build directory (scripts/lint-layers.sh build), it also proves that
# the build enforces the same rule: with the flags CMake gives a file of each
# layer (compile_commands.json), a header of every layer is included, from an
# empty directory. Its own layer and the lower ones must compile; every layer
# above must not.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-}

LAYERS=(lib models middleware routes app)

# Upward includes that are known, with the reason. None are left; an entry
# that is no longer needed fails the lint too, so the list only shrinks.
KNOWN=()

rank() {
  local i
  for i in "${!LAYERS[@]}"; do
    if [[ ${LAYERS[$i]} == "$1" ]]; then
      echo "$i"
      return
    fi
  done
  echo -1
}

bad=0
files=0
seen=()
for layer in "${LAYERS[@]}"; do
  own=$(rank "$layer")
  for file in "$layer"/*.c "$layer"/*.h; do
    [[ -e $file ]] || continue
    files=$((files + 1))
    while read -r header; do
      target=$(rank "${header%%/*}")
      if ((target > own)); then
        if printf '%s\n' "${KNOWN[@]}" | grep -qxF "$file $header"; then
          seen+=("$file $header")
        else
          echo "layers: $file includes $header, a layer above its own"
          bad=1
        fi
      fi
    done < <(sed -n 's/^#include "\([a-z_]*\/[a-z_0-9]*\.h\)".*/\1/p' "$file")
  done
done
for entry in "${KNOWN[@]}"; do
  if ! printf '%s\n' "${seen[@]}" | grep -qxF "$entry"; then
    echo "layers: '$entry' is in KNOWN but no longer included: take it off the list"
    bad=1
  fi
done
echo "layers: $files files checked, ${#KNOWN[@]} known upward includes"

# flags_of LAYER: the compiler and its flags for the first file of LAYER in
# compile_commands.json, one a line, without the source, object and depfile.
flags_of() {
  python3 - "$build/compile_commands.json" "$PWD/$1/" <<'PY'
import json, shlex, sys
entries, prefix = json.load(open(sys.argv[1])), sys.argv[2]
entry = next(e for e in entries if e["file"].startswith(prefix))
words = entry.get("arguments") or shlex.split(entry["command"])
skip = {"-o", "-c", "-MF", "-MT", "-MQ"}
out, i = [], 0
while i < len(words):
    if words[i] in skip:
        i += 2
        continue
    if words[i] not in ("-MD", "-MMD"):
        out.append(words[i])
    i += 1
print("\n".join(out))
PY
}

if [[ -n $build ]]; then
  [[ -f $build/compile_commands.json ]] || {
    echo "layers: $build/compile_commands.json is missing: build first"
    exit 1
  }
  probes=0
  empty=$(mktemp -d)
  trap 'rm -rf "$empty"' EXIT
  for layer in "${LAYERS[@]}"; do
    mapfile -t flags < <(flags_of "$layer")
    own=$(rank "$layer")
    for other in "${LAYERS[@]}"; do
      header=$(cd "$other" && ls ./*.h | head -n 1)
      header="$other/${header#./}"
      probes=$((probes + 1))
      if (cd "$empty" && echo "#include \"$header\"" |
        "${flags[@]}" -fsyntax-only -x c - >/dev/null 2>&1); then
        compiled=1
      else
        compiled=0
      fi
      if (($(rank "$other") <= own && compiled == 0)); then
        echo "layers: a $layer file cannot include $header, a layer at or below its own"
        bad=1
      elif (($(rank "$other") > own && compiled == 1)); then
        echo "layers: a $layer file compiles with $header, a layer above its own"
        bad=1
      fi
    done
  done
  echo "layers: $probes includes tried with the build's flags"
fi
exit "$bad"
