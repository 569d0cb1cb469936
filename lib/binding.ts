/**
 * Loads the native addon once per process (per worker thread) with
 * node-gyp-build: a matching prebuilt binary under prebuilds/, else the one
 * compiled into build/Release. A failure lists every place that was tried and
 * how to build. Only lib/tensor, lib/models and lib/distributed import this.
 */
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Binding } from '../binding.js';
import { errorClasses } from './errors.js';

const require = createRequire(import.meta.url);

/** The package root: the nearest folder above this file with bertorch's package.json. */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg) && require(pkg).name === 'bertorch') return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('bertorch: cannot find the package root above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

export interface LoadedBinding {
  binding: Binding;
  /** The .node file that was loaded. */
  file: string;
  /** True when it came from prebuilds/ rather than a local compile. */
  prebuilt: boolean;
}

/** The command that installs the addon: a dependency reruns its install hook, a checkout builds. */
function fixCommand(root: string): string {
  return root.split(path.sep).includes('node_modules') ? 'npm rebuild bertorch' : 'npm run build:native';
}

function load(): LoadedBinding {
  const root = packageRoot();
  const gypBuild = require('node-gyp-build') as { (dir: string): Binding; resolve(dir: string): string };
  let file: string;
  try {
    file = gypBuild.resolve(root);
  } catch (e) {
    const tried = [
      path.join(root, 'build', 'Release', 'bertorch.node'),
      path.join(root, 'build', 'Debug', 'bertorch.node'),
      path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, '*.node'),
    ];
    // First line: what to run (an install with --ignore-scripts lands here).
    throw new Error(
      `bertorch: the native addon is not built: run \`${fixCommand(root)}\` (an install with --ignore-scripts skips its build).\n` +
        `Tried:\n${tried.map((t) => '  - ' + t).join('\n')}`,
    );
  }
  const prebuilt = file.includes(`${path.sep}prebuilds${path.sep}`);
  if (prebuilt) preloadLibtorchFor(file, root);
  let binding: Binding;
  try {
    binding = require(file) as Binding;
  } catch (e) {
    throw new Error(
      `bertorch: ${file} failed to load: ${(e as Error).message}\n` +
        'The libtorch it was built against may have moved; run `npm run build:native` to rebuild.',
    );
  }
  binding.setup(errorClasses);
  return { binding, file, prebuilt };
}

// glibc's RTLD_NODELETE: Node unloads a library that registers no addon; this keeps it.
const RTLD_NODELETE = 0x1000;

/**
 * A prebuilt binary was linked against libtorch on another machine. Check that
 * the libtorch found here is the same version (never load a mismatch
 * silently), then load its libraries globally so the binary's NEEDED entries
 * resolve to them, wherever this libtorch lives.
 */
function preloadLibtorchFor(file: string, root: string): void {
  const metaFile = path.join(path.dirname(file), 'bertorch.json');
  const meta = existsSync(metaFile) ? (JSON.parse(readFileSync(metaFile, 'utf8')) as { libtorchVersion?: string }) : {};
  const out = execFileSync(process.execPath, [path.join(root, 'scripts', 'find-libtorch.mjs'), '--json'], { encoding: 'utf8', timeout: 120_000 });
  const found = JSON.parse(out.trim().split('\n').pop()!) as { root?: string; version?: string; tried?: string[] };
  if (!found.root || !found.version)
    throw new Error(`bertorch: the prebuilt binary needs libtorch ${meta.libtorchVersion ?? '(unknown)'} and none was found: run \`${fixCommand(root)}\` ` +
      `(it installs PyTorch into the shared cache), or set LIBTORCH.\nBinary: ${file}\nTried:\n` +
      (found.tried ?? []).map((t) => `  - ${t}`).join('\n'));
  if (meta.libtorchVersion !== found.version)
    throw new Error(`bertorch: the prebuilt binary ${file} was built for libtorch ${meta.libtorchVersion ?? '(unknown)'}, ` +
      `but libtorch ${found.version} was found at ${found.root}. Run \`${fixCommand(root)}\` to compile for it, or install libtorch ${meta.libtorchVersion}.`);
  const flags = os.constants.dlopen.RTLD_NOW | os.constants.dlopen.RTLD_GLOBAL | RTLD_NODELETE;
  for (const lib of ['libc10.so', 'libtorch_cpu.so', 'libc10_cuda.so', 'libtorch_cuda.so', 'libtorch.so']) {
    const p = path.join(found.root, 'lib', lib);
    if (!existsSync(p)) continue;
    try {
      process.dlopen({ exports: {} } as NodeJS.Module, p, flags);
    } catch {
      // "Module did not self-register": expected, the library stays loaded.
    }
  }
}

let loaded: LoadedBinding | undefined;

/** The loaded addon and where it came from (loads on first call). */
export function loadBinding(): LoadedBinding {
  loaded ??= load();
  return loaded;
}

/** The native module (loads on first call). */
export function native(): Binding {
  return loadBinding().binding;
}
