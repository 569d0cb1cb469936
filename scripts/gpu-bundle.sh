#!/usr/bin/env bash
# Packs what scripts/gpu-check.sh needs on a GPU machine that has no network
# and maybe no Node: this Node binary and a pruned node_modules (no
# TypeScript compiler, no other platforms' tokenizers binaries), and Gloo's
# headers (the PyPI torch wheel ships c10d's but not Gloo's), as
# tmp/gpu-bundle/{node,node_modules,gloo-include}.tar.xz. Carry tmp/gpu-bundle.
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
gloo="$(dirname "$(find /usr/include /usr/local/include -maxdepth 2 -name algorithm.h -path '*gloo*' 2>/dev/null | head -1)")"
if [ -d "$gloo" ]; then tar -C "$(dirname "$gloo")" -cJf "$dest/gloo-include.tar.xz" gloo; else echo "no Gloo headers here (apt-get install libgloo-dev): the GPU build will lack torch.distributed's Gloo backend"; fi
du -sh "$dest"/*
