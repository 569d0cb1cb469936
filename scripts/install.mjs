// npm install hook: use the addon that is already there (a prebuilt binary
// under prebuilds/ or an earlier build) when it loads against the libtorch
// found now; otherwise compile it (and, when no libtorch exists, fetch
// PyTorch from PyPI into .venv first).
import { spawnSync } from 'node:child_process';
import { buildNative } from './build-native.mjs';
import { projectRoot } from './find-libtorch.mjs';

function loads() {
  // A child process: a failed dlopen must not poison this one.
  const probe = `const b = require('node-gyp-build')(${JSON.stringify(projectRoot)}); console.log(b.info().libtorchVersion);`;
  const r = spawnSync(process.execPath, ['-e', probe], { cwd: projectRoot, encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

if (process.env.BERTORCH_SKIP_INSTALL) process.exit(0);
const version = loads();
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
