#!/usr/bin/env bash
# The layers call downwards only (docs/architecture.md): app, then routes,
# then middleware, then models, then lib. A file may include headers of its
# own layer or a lower one. Prints "layers: N files checked" and exits 1
# naming every include that points upwards and is not in KNOWN below.
set -euo pipefail
cd "$(dirname "$0")/.."

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
exit "$bad"
