#!/usr/bin/env bash
# Two clones of this commit in folders of different names and depths build
# byte-identical pkg/ output (issue 12). Slow (two builds of the tollgate crate;
# dependencies are shared through one target dir): `npm run reproducible`, and
# part of `npm run bench`. Needs the repository's node_modules (npm ci).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export CARGO_TARGET_DIR=$repo/target/reproducible
for dir in "$tmp/a" "$tmp/another/much-longer-folder-name"; do
  mkdir -p "$(dirname "$dir")"
  git clone --quiet --no-hardlinks "$repo" "$dir"
  git -C "$dir" checkout --quiet "$(git rev-parse HEAD)"
  ln -s "$repo/node_modules" "$dir/node_modules"
  (cd "$dir" && nice bash .ci/build.sh >/dev/null)
done
if diff -r "$tmp/a/pkg" "$tmp/another/much-longer-folder-name/pkg" >/dev/null; then
  echo "reproducible: pkg/ is byte-identical in two clones ($(cd "$tmp/a/pkg" && find . -type f | wc -l) files)"
else
  echo "NOT reproducible: pkg/ differs between two clones:" >&2
  diff -rq "$tmp/a/pkg" "$tmp/another/much-longer-folder-name/pkg" >&2 || true
  exit 1
fi
