// `npm run prebuild`: compiles the addon for the libtorch found here (the
// pinned PyPI torch by default) and stores it as a prebuilt binary that
// node-gyp-build loads without compiling:
//   prebuilds/<platform>-<arch>/node.napi.node
//   prebuilds/<platform>-<arch>/bertorch.json   { libtorchVersion, cuda, ... }
// prebuildify itself drives node-gyp; this project builds with cmake-js, so
// this script does prebuildify's job (build, then copy under prebuilds/).
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildNative } from './build-native.mjs';
import { projectRoot } from './find-libtorch.mjs';
import { setRunpath } from './strip-rpath.mjs';

try {
  const torch = buildNative({ setup: true });
  const dir = path.join(projectRoot, 'prebuilds', `${process.platform}-${process.arch}`);
  mkdirSync(dir, { recursive: true });
  const binary = path.join(dir, 'node.napi.node');
  copyFileSync(path.join(projectRoot, 'build', 'Release', 'bertorch.node'), binary);
  // The build's rpath names this machine's libtorch folder; lib/binding.ts
  // preloads the libtorch found on the user's machine instead.
  setRunpath(binary, '$ORIGIN');
  const meta = {
    libtorchVersion: torch.version,
    cuda: existsSync(path.join(torch.root, 'lib', 'libtorch_cuda.so')),
    builtFrom: torch.via,
    gloo: torch.gloo ? torch.gloo.version : null,
    node: process.version,
    napi: 8,
    date: new Date().toISOString(),
  };
  writeFileSync(path.join(dir, 'bertorch.json'), JSON.stringify(meta, null, 2) + '\n');
  console.log(`bertorch: prebuilt binary for libtorch ${meta.libtorchVersion} in ${path.relative(projectRoot, dir)}`);
} catch (e) {
  console.error(e.message);
  process.exit(1);
}
