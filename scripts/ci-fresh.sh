#!/usr/bin/env bash
# `pnpm ci:fresh`: runs .ci/run as a fresh machine would. A clone of the committed HEAD (not the
# working tree) in a temporary folder, with a new, empty HOME, XDG cache/data/config folders, pnpm
# store and npm cache, so nothing this machine downloaded or built before can hide a missing install
# step (the pnpm store, registry metadata, pip's cache, the TensorFlow backend build). Ends with
# .ci/run's `N passed, N failed` line and its exit code. KEEP=1 keeps the folder for a look.
set -uo pipefail

# One function, parsed whole before it runs: editing this file during a run cannot break the run.
main() {
  root=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel) || exit 2
  work=$(mktemp -d "${TMPDIR:-/tmp}/tsnas-ci-fresh.XXXXXX")
  cleanup() { if [ "${KEEP:-0}" = 1 ]; then echo "kept $work" >&2; else rm -rf "$work"; fi; }
  trap cleanup EXIT
  git clone --quiet --no-local "$root" "$work/repo" || exit 2
  # CI lays a copy of shared/ beside the clone.
  if [ -d "$root/../shared" ]; then cp -r "$root/../shared" "$work/shared"; fi
  mkdir -p "$work/home" "$work/cache" "$work/data" "$work/config"
  # pip's configuration is the machine's, not a cache (here it names the local wheel index): keep it.
  for conf in "${XDG_CONFIG_HOME:-$HOME/.config}/pip/pip.conf" "$HOME/.pip/pip.conf"; do
    if [ -f "$conf" ]; then mkdir -p "$work/config/pip" && cp "$conf" "$work/config/pip/pip.conf" && break; fi
  done
  echo "ci:fresh: $(git -C "$work/repo" log --oneline -1) in $work, empty HOME, caches and pnpm store" >&2
  cd "$work/repo" || exit 2
  env -u PNPM_HOME -u npm_config_store_dir -u TSNAS_CACHE_DIR \
    HOME="$work/home" \
    XDG_CACHE_HOME="$work/cache" XDG_DATA_HOME="$work/data" XDG_CONFIG_HOME="$work/config" \
    npm_config_store_dir="$work/store" npm_config_cache="$work/npm-cache" \
    CI=true bash .ci/run
}
main "$@"
