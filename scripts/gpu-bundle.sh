#!/usr/bin/env bash
# Packs what scripts/gpu-check.sh needs on a GPU machine that has no network
# and maybe no Node: this Node binary and a pruned node_modules (no
# TypeScript compiler, no other platforms' tokenizers binaries), as
# tmp/gpu-bundle/{node.tar.xz,node_modules.tar.xz}. Carry tmp/gpu-bundle.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/tmp/gpu-bundle"
rm -rf "$dest" && mkdir -p "$dest/node/bin"
cp "$(command -v node)" "$dest/node/bin/node"
tar -C "$dest" -cJf "$dest/node.tar.xz" node && rm -rf "$dest/node"
cd "$root"
tar -cJf "$dest/node_modules.tar.xz" \
  --exclude='node_modules/typescript' --exclude='node_modules/@types' \
  --exclude='node_modules/tokenizers/tokenizers.[!l]*.node' \
  --exclude='node_modules/tokenizers/tokenizers.linux-arm*' --exclude='node_modules/tokenizers/tokenizers.linux-x64-musl.node' \
  --exclude='*.map' node_modules
du -sh "$dest"/*
