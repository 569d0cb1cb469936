// Finds libtorch, in the order the README documents:
//   1. LIBTORCH            an unpacked libtorch (include/, lib/)
//   2. Torch_DIR           a folder holding TorchConfig.cmake
//   3. Python PyTorch      BERTORCH_PYTHON, the project's .venv, the shared
//                          cache's venv (<cache>/torch-<version>), then python3
//   4. a system package    /usr (Debian's libtorch-dev) when >= 2.1
// Returns { root, via, version } or null. Never downloads anything.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const PINNED_TORCH = '2.11.0';

/**
 * The per-machine cache that every app and checkout shares (as puppeteer's
 * browsers): PyTorch's venv (torch-<version>) and Gloo's headers (gloo-<version>).
 * BERTORCH_CACHE overrides it.
 */
export function cacheDir() {
  if (process.env.BERTORCH_CACHE) return path.resolve(process.env.BERTORCH_CACHE);
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'bertorch');
}

/** The shared venv that scripts/setup-libtorch.sh installs the pinned PyTorch into. */
export function cachedTorchVenv(version = process.env.BERTORCH_TORCH_VERSION || PINNED_TORCH) {
  return path.join(cacheDir(), `torch-${version}`);
}

export function libtorchVersion(root) {
  for (const rel of ['include/torch/headeronly/version.h', 'include/torch/csrc/api/include/torch/version.h']) {
    const file = path.join(root, rel);
    if (!existsSync(file)) continue;
    const text = readFileSync(file, 'utf8');
    const get = (k) => text.match(new RegExp(`#define TORCH_VERSION_${k} (\\d+)`))?.[1];
    if (get('MAJOR')) return `${get('MAJOR')}.${get('MINOR')}.${get('PATCH')}`;
  }
  return null;
}

export function pythonCandidates() {
  const list = [];
  if (process.env.BERTORCH_PYTHON) list.push(process.env.BERTORCH_PYTHON);
  list.push(path.join(projectRoot, '.venv', 'bin', 'python'));
  list.push(path.join(cachedTorchVenv(), 'bin', 'python'));
  list.push('python3');
  return list;
}

function fromPython(py) {
  try {
    const out = execFileSync(py, ['-c', 'import torch, os; print(os.path.dirname(torch.__file__))'], {
      encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 60_000,
    });
    return out.trim().split('\n').pop();
  } catch {
    return null;
  }
}

const usable = (root) => root && existsSync(path.join(root, 'include', 'torch')) && libtorchVersion(root);

export function findLibtorch({ log = () => {} } = {}) {
  const tried = [];
  const accept = (root, via) => {
    const version = libtorchVersion(root);
    const [maj, min] = (version ?? '0.0').split('.').map(Number);
    if (maj < 2 || (maj === 2 && min < 1)) {
      tried.push(`${via}: ${root} is libtorch ${version}, bertorch needs >= 2.1`);
      return null;
    }
    log(`bertorch: using libtorch ${version} from ${via} (${root})`);
    return { root, via, version };
  };
  if (process.env.LIBTORCH) {
    if (usable(process.env.LIBTORCH)) return accept(process.env.LIBTORCH, 'LIBTORCH');
    tried.push(`LIBTORCH=${process.env.LIBTORCH}: no include/torch there`);
  }
  if (process.env.Torch_DIR) {
    const root = path.resolve(process.env.Torch_DIR, '..', '..', '..');
    if (usable(root)) { const r = accept(root, 'Torch_DIR'); if (r) return r; }
    else tried.push(`Torch_DIR=${process.env.Torch_DIR}: not inside a libtorch`);
  }
  for (const py of pythonCandidates()) {
    if (py.includes(path.sep) && !existsSync(py)) { tried.push(`${py}: not present`); continue; }
    const root = fromPython(py);
    if (usable(root)) { const r = accept(root, `Python PyTorch (${py})`); if (r) return r; }
    else tried.push(`${py}: cannot import torch`);
  }
  for (const root of ['/usr', '/usr/local']) {
    if (usable(root) && existsSync(path.join(root, 'lib', 'x86_64-linux-gnu', 'libc10.so'))) {
      const r = accept(root, 'system package'); if (r) return r;
    }
  }
  findLibtorch.tried = tried;
  return null;
}

// `node scripts/find-libtorch.mjs --json`: the libtorch found, as JSON (used by
// lib/binding.ts to check a prebuilt binary against the local libtorch).
if (import.meta.url === `file://${process.argv[1]}` && process.argv.includes('--json')) {
  process.stdout.write(JSON.stringify(findLibtorch() ?? { error: 'not found', tried: findLibtorch.tried ?? [] }) + '\n');
}
