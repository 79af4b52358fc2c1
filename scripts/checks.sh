#!/bin/sh
# The static checks `npm test` runs before the tests, side by side: eslint, prettier --check and
# the type checks (npm run lint is the first two, one after the other). Each is mostly one
# thread, so on two cores together they take little more than eslint alone. All run to the end;
# any failing fails the whole, and each one's output is printed in one piece, not interleaved.
set -u
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
(npx eslint . >"$dir/eslint" 2>&1; echo $? >"$dir/eslint.rc") &
(npx prettier --check . >"$dir/prettier" 2>&1; echo $? >"$dir/prettier.rc") &
(npm run --silent typecheck >"$dir/typecheck" 2>&1; echo $? >"$dir/typecheck.rc") &
wait
status=0
for check in eslint prettier typecheck; do
  code="$(cat "$dir/$check.rc")"
  if [ "$code" -ne 0 ]; then
    echo "$check failed ($code):"
    status=1
  else
    echo "$check: ok"
  fi
  cat "$dir/$check"
done
exit "$status"
