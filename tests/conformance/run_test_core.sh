#!/usr/bin/env bash
# Triton's own test_core.py against our `cpu` backend, minus skiplist.txt.
# Long (hours for the full suite): not part of the default test run.
#
#   tests/conformance/run_test_core.sh [--quick[=N]] [pytest args...]
#
# Needs a git snapshot of lightseekorg/triton (TC_TRITON_GITDIR, see
# shared/tools/test_core.sh); Triton's test files are exported outside this repo.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
runner=${TC_SCRIPT:-$repo/../shared/tools/test_core.sh}
[[ -f $runner ]] || { echo "run_test_core.sh: no $runner (set TC_SCRIPT)" >&2; exit 2; }
deselect=()
while IFS= read -r line; do
  id=${line%%#*}; id=${id//[[:space:]]/}
  [[ -n $id ]] && deselect+=(--deselect "python/test/unit/language/test_core.py::$id")
done < "$here/skiplist.txt"
exec bash "$runner" "${PYTHON:-python}" "$@" "${deselect[@]}"
