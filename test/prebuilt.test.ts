// A prebuilt binary (prebuilds/<platform>-<arch>/node.napi.node + bertorch.json)
// loads without compiling when the libtorch found here matches the one it was
// built for, even with no rpath into that libtorch; a mismatch is an error
// naming both versions, never a silent load. Uses a copy of the package with
// this build's addon as its "prebuilt" binary.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { info } from '../lib/index.js';
// @ts-expect-error: a plain .mjs script, untyped
import { setRunpath } from '../scripts/strip-rpath.mjs';

const repo = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

function packageCopy(libtorchVersion: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'bt-prebuilt-'));
  for (const f of ['package.json', 'binding.d.ts', 'tsconfig.json']) copyFileSync(path.join(repo, f), path.join(dir, f));
  cpSync(path.join(repo, 'lib'), path.join(dir, 'lib'), { recursive: true });
  cpSync(path.join(repo, 'scripts'), path.join(dir, 'scripts'), { recursive: true });
  symlinkSync(path.join(repo, 'node_modules'), path.join(dir, 'node_modules'));
  symlinkSync(path.join(repo, '.venv'), path.join(dir, '.venv'));
  const pre = path.join(dir, 'prebuilds', `${process.platform}-${process.arch}`);
  mkdirSync(pre, { recursive: true });
  copyFileSync(path.join(repo, 'build', 'Release', 'bertorch.node'), path.join(pre, 'node.napi.node'));
  // As on a user's machine (and as prebuild.mjs does): the binary has no path into this libtorch.
  const old = setRunpath(path.join(pre, 'node.napi.node'), '$ORIGIN');
  if (!old.includes('torch')) throw new Error(`expected the build's rpath to name libtorch, found '${old}'`);
  writeFileSync(path.join(pre, 'bertorch.json'), JSON.stringify({ libtorchVersion }));
  return dir;
}

function load(dir: string) {
  const code = "import { info, tensor } from './lib/index.ts'; const i = info(); console.log(JSON.stringify({ prebuilt: i.prebuilt, v: i.libtorchVersion, sum: tensor([1, 2]).sum().item() }));";
  return spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: dir, encoding: 'utf8', timeout: 120_000, env: { ...process.env, BERTORCH_PYTHON: path.join(repo, '.venv', 'bin', 'python') } });
}

test('a prebuilt binary for the local libtorch loads without a compile, with no rpath into libtorch', (t) => {
  const r = load(packageCopy(info().libtorchVersion));
  t.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
  t.true(out.prebuilt);
  t.is(out.v, info().libtorchVersion);
  t.is(out.sum, 3);
});

test('a prebuilt binary for another libtorch is refused with both versions named', (t) => {
  const r = load(packageCopy('2.1.0'));
  t.not(r.status, 0);
  t.regex(r.stderr, /built for libtorch 2\.1\.0, but libtorch \d+\.\d+\.\d+ was found at .*npm run build:native/s);
});
