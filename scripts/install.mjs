// npm install hook: use the addon that is already there (a prebuilt binary
// under prebuilds/ or an earlier build) when it loads against the libtorch
// found now; otherwise compile it (and, when no libtorch exists, fetch
// PyTorch from PyPI into the shared cache first).
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildNative } from './build-native.mjs';
import { findLibtorch, projectRoot } from './find-libtorch.mjs';
import { GLOO_OPT_OUT } from './gloo.mjs';

/** A checkout (tsconfig.json is not packed) loads its TypeScript through tsx, a devDependency. */
function probeArgs() {
  const probe = (entry) => `import(${JSON.stringify(entry)}).then((m) => { const i = m.native().info(); ` +
    `console.log(JSON.stringify({ version: i.libtorchVersion, backends: i.distributedBackends })); })`;
  if (existsSync(path.join(projectRoot, 'tsconfig.json'))) {
    try {
      const tsx = createRequire(path.join(projectRoot, 'package.json')).resolve('tsx');
      return ['--import', pathToFileURL(tsx).href, '-e', probe('./lib/binding.ts')];
    } catch { /* no tsx: fall through to dist */ }
  }
  return ['-e', probe('./dist/lib/binding.js')];
}

function loads() {
  // In a child process: a failed dlopen must not poison this one. lib/binding
  // checks a prebuilt binary against the local libtorch and preloads that libtorch.
  const r = spawnSync(process.execPath, probeArgs(), { cwd: projectRoot, encoding: 'utf8' });
  if (r.status !== 0 && r.stderr.includes('was built for libtorch')) console.log(r.stderr.trim().split('\n')[0]);
  if (r.status !== 0) return null;
  const { version, backends } = JSON.parse(r.stdout.trim().split('\n').pop());
  // An earlier build without Gloo is not kept unless that was asked for.
  if (!backends.includes('gloo') && !process.env[GLOO_OPT_OUT]) {
    console.log(`bertorch: the addon at hand has no Gloo backend (${GLOO_OPT_OUT} is not set): building it again`);
    return null;
  }
  return version;
}

if (process.env.BERTORCH_SKIP_INSTALL) process.exit(0);
let version = process.env.BERTORCH_FORCE_BUILD ? null : loads();
// A prebuilt binary needs a libtorch too: fetch the pinned one, then try again before compiling.
if (!version && !process.env.BERTORCH_FORCE_BUILD && !findLibtorch() && existsSync(path.join(projectRoot, 'prebuilds'))) {
  const r = spawnSync('bash', [path.join(projectRoot, 'scripts', 'setup-libtorch.sh')], { stdio: 'inherit' });
  if (r.status === 0) version = loads();
}
if (version) {
  console.log(`bertorch: native addon loads (libtorch ${version}); nothing to build`);
  process.exit(0);
}
try {
  buildNative({ setup: true });
  // Installed as a dependency, the build folder stays in node_modules: its precompiled torch/torch.h (about
  // 700 MB) only speeds up rebuilds, which a checkout makes and an installed package does not.
  if (!existsSync(path.join(projectRoot, 'tsconfig.json'))) rmSync(path.join(projectRoot, 'build', 'CMakeFiles', 'bertorch.dir', 'cmake_pch.hxx.gch'), { force: true });
} catch (e) {
  console.error(e.message);
  process.exit(1);
}
