// Compiles the addon with cmake-js against the libtorch that find-libtorch.mjs
// picks; with --setup, installs PyTorch from PyPI into .venv when none is found.
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { findLibtorch, projectRoot } from './find-libtorch.mjs';

export function buildNative({ setup = false, extra = [] } = {}) {
  let torch = findLibtorch({ log: console.log });
  if (!torch && setup) {
    console.log('bertorch: no libtorch found; installing PyTorch from PyPI into .venv (scripts/setup-libtorch.sh)');
    const r = spawnSync('bash', [path.join(projectRoot, 'scripts', 'setup-libtorch.sh')], { stdio: 'inherit' });
    if (r.status === 0) torch = findLibtorch({ log: console.log });
  }
  if (!torch) {
    const tried = (findLibtorch.tried ?? []).map((t) => `  - ${t}`).join('\n');
    throw new Error(
      `bertorch: no libtorch >= 2.1 found. Tried:\n${tried}\n` +
      'Set LIBTORCH=/path/to/libtorch (an unpacked libtorch) or Torch_DIR, ' +
      'or run `bash scripts/setup-libtorch.sh` (pip installs torch==2.11.0 into .venv).');
  }
  const cmakeJs = path.join(projectRoot, 'node_modules', 'cmake-js', 'bin', 'cmake-js');
  const args = [cmakeJs, 'compile', '--directory', projectRoot, `--CDBERTORCH_LIBTORCH=${torch.root}`, ...extra];
  if (process.env.BERTORCH_DEBUG) args.push('--debug');
  execFileSync(process.execPath, args, { stdio: 'inherit', env: { ...process.env, BERTORCH_LIBTORCH: torch.root } });
  return torch;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    buildNative({ setup: process.argv.includes('--setup') });
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
