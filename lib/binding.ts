/**
 * Loads the native addon once per process (per worker thread) with
 * node-gyp-build: a matching prebuilt binary under prebuilds/, else the one
 * compiled into build/Release. A failure lists every place that was tried and
 * how to build. Only lib/tensor, lib/models and lib/distributed import this.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
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
  return { binding, file, prebuilt: file.includes(`${path.sep}prebuilds${path.sep}`) };
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
