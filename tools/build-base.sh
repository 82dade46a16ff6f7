#!/usr/bin/env bash
# Builds the previous release's vpnpt (the commit in tools/upgrade-base) from this
# clone, for the upgrade test (netns-lab/tests/daemon/upgrade.sh, ctest lab_upgrade):
#
#   tools/build-base.sh [DIR]      (default DIR: <repo>/build/build-base)
#
# DIR/src is a detached git worktree of this clone at the base commit (kept and
# reused while it is at that commit and unmodified), DIR/build its build tree
# (the README's build, the vpnpt target only, no tests). Prints the binary's path,
# DIR/build/vpnpt, as its last line. A base commit this clone does not have (a
# shallow clone) is fetched from origin; if that fails it is an error, as is any failed step: exit 1 with one line saying
# why, and the upgrade test then fails (never skips). A worktree registration of
# DIR/src whose directory is gone (a deleted build tree) is removed first, so a
# re-run in a fresh build tree works. JOBS=N sets the build's parallelism.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$repo/build/build-base}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
src=$dir/src bld=$dir/build
jobs=${JOBS:-$(nproc)}
die() {
  echo "tools/build-base.sh: $*" >&2
  exit 1
}

# The base: the first line of tools/upgrade-base that is not a comment or blank.
base=$(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$repo/tools/upgrade-base" | grep -m1 . || true)
[[ "$base" =~ ^[0-9a-f]{40}$ ]] || die "tools/upgrade-base: expected a 40-hex commit, got '$base'"
git -C "$repo" rev-parse --git-dir >/dev/null 2>&1 || die "$repo is not a git clone: the base commit $base cannot be checked out"
if ! git -C "$repo" cat-file -e "$base^{commit}" 2>/dev/null; then
  # A shallow clone (CI may make one): fetch the commit from where the clone came from.
  echo "build-base: $base is not in this clone; fetching it from origin" >&2
  timeout 300 git -C "$repo" fetch --quiet origin "$base" >/dev/null 2>&1 ||
    { [[ -f $(git -C "$repo" rev-parse --git-dir)/shallow ]] && timeout 600 git -C "$repo" fetch --quiet --unshallow origin >/dev/null 2>&1; } || true
  git -C "$repo" cat-file -e "$base^{commit}" 2>/dev/null ||
    die "base commit $base (tools/upgrade-base) is not in this clone and origin did not give it (git fetch --unshallow)"
fi

common=$(cd "$repo" && cd "$(git rev-parse --git-common-dir)" && pwd)
reuse=0
if [[ -e $src/.git ]] && [[ "$(cd "$src" && cd "$(git rev-parse --git-common-dir 2>/dev/null)" 2>/dev/null && pwd)" == "$common" ]] &&
  [[ "$(git -C "$src" rev-parse HEAD 2>/dev/null)" == "$base" ]] && [[ -z "$(git -C "$src" status --porcelain 2>/dev/null)" ]]; then
  reuse=1
fi
if ((reuse == 0)); then
  # Our own registration of $src only (a stale one from a deleted build tree, or one at another
  # commit); other worktrees of the clone are left alone.
  if git -C "$repo" worktree list --porcelain | grep -qxF "worktree $src"; then
    git -C "$repo" worktree remove --force "$src" >/dev/null 2>&1 || die "cannot remove the old worktree $src"
  fi
  [[ ! -e $src ]] || rm -rf -- "$src"
  git -C "$repo" worktree add --detach "$src" "$base" >/dev/null 2>&1 ||
    die "git worktree add --detach $src $base failed"
  rm -rf -- "$bld" # another commit's build tree
fi
echo "build-base: $(git -C "$src" log -1 --format='%h %s' HEAD) ($([[ $reuse == 1 ]] && echo reused || echo new) worktree $src)" >&2

log=$dir/build.log
if ! { cmake -S "$src" -B "$bld" -DBUILD_TESTING=OFF && cmake --build "$bld" -j"$jobs" --target vpnpt; } >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  die "building the base's vpnpt failed (log: $log)"
fi
[[ -x $bld/vpnpt ]] || die "the base's build made no $bld/vpnpt"
echo "$bld/vpnpt"
