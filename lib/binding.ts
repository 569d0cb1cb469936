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
    throw new Error(
      `bertorch: the native addon is not built. Tried:\n${tried.map((t) => '  - ' + t).join('\n')}\n` +
        'Run `npm run build:native` (it finds libtorch, or `bash scripts/setup-libtorch.sh` installs one).',
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
    throw new Error(`bertorch: the prebuilt binary ${file} needs libtorch ${meta.libtorchVersion ?? '(unknown)'}, and none was found. Tried:\n` +
      (found.tried ?? []).map((t) => `  - ${t}`).join('\n') + '\nSet LIBTORCH or run `bash scripts/setup-libtorch.sh`.');
  if (meta.libtorchVersion !== found.version)
    throw new Error(`bertorch: the prebuilt binary ${file} was built for libtorch ${meta.libtorchVersion ?? '(unknown)'}, ` +
      `but libtorch ${found.version} was found at ${found.root}. Run \`npm run build:native\` to compile for it, or install libtorch ${meta.libtorchVersion}.`);
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
