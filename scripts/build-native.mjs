// Compiles the addon with cmake-js against the libtorch that find-libtorch.mjs
// picks and the Gloo headers that gloo.mjs finds or fetches; with --setup,
// installs PyTorch from PyPI into the shared cache when no libtorch is found.
// cmake-js and node-addon-api are found by module resolution from this file, so
// the build works wherever the package manager put them (hoisted by npm,
// symlinked by pnpm, nested).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { findLibtorch, projectRoot } from './find-libtorch.mjs';
import { findGloo, GLOO_OPT_OUT } from './gloo.mjs';

const require = createRequire(import.meta.url);

/** A build tool the install needs, found by resolution; a miss names the fix. */
function resolveDependency(spec) {
  try {
    return require.resolve(spec);
  } catch {
    throw new Error(`bertorch: cannot resolve ${spec} from ${projectRoot}; it is one of bertorch's dependencies: run \`npm install\` again`);
  }
}

export function buildNative({ setup = false, extra = [] } = {}) {
  let torch = findLibtorch({ log: console.log });
  if (!torch && setup) {
    console.log('bertorch: no libtorch found; installing PyTorch from PyPI into the shared cache (scripts/setup-libtorch.sh)');
    const r = spawnSync('bash', [path.join(projectRoot, 'scripts', 'setup-libtorch.sh')], { stdio: 'inherit' });
    if (r.status === 0) torch = findLibtorch({ log: console.log });
  }
  if (!torch) {
    const tried = (findLibtorch.tried ?? []).map((t) => `  - ${t}`).join('\n');
    throw new Error(
      `bertorch: no libtorch >= 2.1 found. Tried:\n${tried}\n` +
      'Set LIBTORCH=/path/to/libtorch (an unpacked libtorch) or Torch_DIR, ' +
      'or run `bash scripts/setup-libtorch.sh` (pip installs torch==2.11.0 into the shared cache).');
  }
  const gloo = findGloo({ log: console.log });
  if (gloo) console.log(`bertorch: Gloo headers from ${gloo.via}`);
  const cmakeJs = resolveDependency('cmake-js/bin/cmake-js');
  const addonApi = path.dirname(resolveDependency('node-addon-api/package.json'));
  const defines = [`--CDBERTORCH_LIBTORCH=${torch.root}`, `--CDNODE_ADDON_API_DIR=${addonApi}`,
    `--CDBERTORCH_WITH_GLOO=${gloo ? 'ON' : 'OFF'}`, `--CDBERTORCH_GLOO_INCLUDE=${gloo?.include ?? ''}`, ...extra];
  if (process.env.BERTORCH_DEBUG) defines.push('--debug');
  const cmake = (step) => execFileSync(process.execPath, [cmakeJs, step, '--directory', projectRoot, ...defines],
    { stdio: 'inherit', cwd: projectRoot, env: { ...process.env, BERTORCH_LIBTORCH: torch.root } });
  // configure, then build: `cmake-js compile` builds an existing folder with
  // its old settings (a new libtorch or Gloo folder would be ignored) and, when
  // that fails, deletes the folder and starts over. Configuring each time
  // applies the settings and still compiles only what changed.
  cmake('configure');
  cmake('build');
  // What this build has and why (read by tests, to tell a feature left out on purpose from a broken build).
  const features = { libtorchVersion: torch.version, libtorch: torch.root, gloo: gloo ?? { omitted: `${GLOO_OPT_OUT}=1` } };
  mkdirSync(path.join(projectRoot, 'build'), { recursive: true });
  writeFileSync(path.join(projectRoot, 'build', 'bertorch-build.json'), JSON.stringify(features, null, 2) + '\n');
  return { ...torch, gloo };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    buildNative({ setup: process.argv.includes('--setup') });
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
