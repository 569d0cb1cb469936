#!/usr/bin/env bash
# Provides libtorch when none is installed: PyTorch (pinned) from PyPI into a
# venv in the per-machine cache (<cache>/torch-<version>, see cacheDir() in
# find-libtorch.mjs), shared by every app that depends on bertorch and by
# checkouts. The wheel carries libtorch's headers, shared libraries and cmake
# files; bertorch builds against them and finds them at run time by rpath.
# In a checkout, .venv (where `npm test` installs transformers & co.) sees that
# torch through a .pth file instead of downloading its own 5 GB.
# Usage: bash scripts/setup-libtorch.sh   (env BERTORCH_TORCH_VERSION overrides the pin)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
version="${BERTORCH_TORCH_VERSION:-2.11.0}"
cache="${BERTORCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bertorch}"
venv="$cache/torch-$version"
mkdir -p "$cache"
# Two installs at once (two apps, or an app and a checkout) take turns on the cache.
if command -v flock >/dev/null; then exec 9>"$cache/.setup.lock"; flock 9; fi

py="${BERTORCH_BOOTSTRAP_PYTHON:-python3}"
if ! command -v "$py" >/dev/null; then
  echo "bertorch: python3 is needed to install PyTorch from PyPI. Install Python >= 3.10, or set LIBTORCH=/path/to/libtorch." >&2
  exit 1
fi
if [ ! -x "$venv/bin/python" ]; then
  if ! "$py" -m venv "$venv" 2>/dev/null; then
    rm -rf "$venv"
    # Debian ships venv separately.
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
      "$py" -m venv "$venv"
    else
      echo "bertorch: '$py -m venv' failed. Install python3-venv (Debian/Ubuntu: apt-get install python3-venv), or set LIBTORCH." >&2
      exit 1
    fi
  fi
fi
# A checkout's .venv: its own packages (the test suite's), torch from the cache.
link_checkout_venv() {
  case "$root" in */node_modules/*) return 0 ;; esac
  local local_venv="$root/.venv"
  [ -x "$local_venv/bin/python" ] || "$py" -m venv "$local_venv"
  if "$local_venv/bin/python" -c 'import torch' 2>/dev/null; then return 0; fi
  local site_cache site_local
  site_cache="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  site_local="$("$local_venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  if [ "$(basename "$(dirname "$site_cache")")" != "$(basename "$(dirname "$site_local")")" ]; then
    echo "bertorch: $local_venv and $venv use different Pythons; not linking torch into .venv" >&2
    return 0
  fi
  echo "$site_cache" > "$site_local/bertorch-shared-torch.pth"
  echo "bertorch: $local_venv uses torch from $venv"
}
# The NCCL backend compiles against CUDA's headers. The CUDA 13 wheels ship
# them without CCCL's (nv/target); its headers-only wheel (3 MB) fills the gap.
cccl() {
  local cuda
  cuda="$("$venv/bin/python" -c 'import torch; print(torch.version.cuda or "")')"
  case "$cuda" in
    13.*) "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "nvidia-cuda-cccl==$cuda.*" \
            || echo "bertorch: nvidia-cuda-cccl not installed; the addon builds without the NCCL backend" ;;
  esac
}
if "$venv/bin/python" -c "import torch, sys; sys.exit(0 if torch.__version__.split('+')[0] == '$version' else 1)" 2>/dev/null; then
  echo "bertorch: torch $version already in $venv"
  cccl
  link_checkout_venv
  exit 0
fi
echo "bertorch: installing torch==$version from PyPI into $venv (about 5 GB with its CUDA libraries)"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "torch==$version"
cccl
"$venv/bin/python" -c "import torch; print('bertorch: torch', torch.__version__, 'at', torch.utils.cmake_prefix_path)"
link_checkout_venv
