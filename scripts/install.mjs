// npm install hook: use the addon that is already there (a prebuilt binary
// under prebuilds/ or an earlier build) when it loads against the libtorch
// found now; otherwise compile it (and, when no libtorch exists, fetch
// PyTorch from PyPI into .venv first).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { buildNative } from './build-native.mjs';
import { findLibtorch, projectRoot } from './find-libtorch.mjs';

function loads() {
  // In a child process (a failed dlopen must not poison this one), through
  // lib/binding: it checks a prebuilt binary against the local libtorch and
  // preloads that libtorch. The published package runs dist/; a checkout runs
  // the TypeScript through tsx (a devDependency, installed before this hook).
  const dist = existsSync(path.join(projectRoot, 'dist', 'lib', 'binding.js'));
  const entry = dist ? './dist/lib/binding.js' : './lib/binding.ts';
  const probe = `import(${JSON.stringify(entry)}).then((m) => console.log(m.native().info().libtorchVersion))`;
  const args = dist ? ['-e', probe] : ['--import', 'tsx', '-e', probe];
  const r = spawnSync(process.execPath, args, { cwd: projectRoot, encoding: 'utf8' });
  if (r.status !== 0 && r.stderr.includes('was built for libtorch')) console.log(r.stderr.trim().split('\n')[0]);
  return r.status === 0 ? r.stdout.trim().split('\n').pop() : null;
}

if (process.env.BERTORCH_SKIP_INSTALL) process.exit(0);
let version = loads();
// A prebuilt binary needs a libtorch too: fetch the pinned one, then try again before compiling.
if (!version && !findLibtorch() && existsSync(path.join(projectRoot, 'prebuilds'))) {
  const r = spawnSync('bash', [path.join(projectRoot, 'scripts', 'setup-libtorch.sh')], { stdio: 'inherit' });
  if (r.status === 0) version = loads();
}
if (version && !process.env.BERTORCH_FORCE_BUILD) {
  console.log(`bertorch: native addon loads (libtorch ${version}); nothing to build`);
  process.exit(0);
}
try {
  buildNative({ setup: true });
} catch (e) {
  console.error(e.message);
  process.exit(1);
}
