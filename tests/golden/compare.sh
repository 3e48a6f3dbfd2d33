#!/usr/bin/env bash
# Compares two builds of regraft case by case: tests/golden/compare.sh OLD_BIN NEW_BIN [CASES...]
# (default: cases.txt and real-cases.txt). Each case runs with each binary through the golden
# test's runner (tests/integration/golden.rs) and the digests are diffed; exit 1 on a difference.
set -euo pipefail
cd "$(dirname "$0")/../.."
old=$1 new=$2
shift 2
cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=(tests/golden/cases.txt tests/golden/real-cases.txt)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rc=0
for c in "${cases[@]}"; do
  for side in old new; do
    REGRAFT_BIN=$(realpath "${!side}") REGRAFT_GOLDEN_CASES=$(realpath "$c") \
      REGRAFT_GOLDEN_WRITE="$tmp/$side" cargo test -q --test integration golden:: >/dev/null
  done
  if diff "$tmp/old" "$tmp/new"; then
    echo "compare.sh: $c: $(wc -l <"$tmp/new") case(s), all the same"
  else
    rc=1
  fi
done
exit $rc
