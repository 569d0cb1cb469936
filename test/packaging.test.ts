// bertorch as a dependency, as a service installs it: `npm pack` here, then a
// fresh app elsewhere runs `npm install <tarball>` and uses the package from
// node_modules: ESM import, CommonJS require, tsc against the shipped
// declarations, the CLI, and a tiny fine-tune + predict. Once with the
// prebuilt binary and no compiler or cmake on PATH, once compiled from source.
// No network: npm reads only its cache (filled by this checkout's own install),
// and libtorch is this checkout's (BERTORCH_PYTHON).
import test, { type ExecutionContext } from 'ava';
import { spawn, spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { appLockfile } from './helpers/app-lock.js';
import { PYTHON } from './helpers/python.js';

const repo = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const FIXTURE = path.join(repo, 'test', 'fixtures', 'packaging-app');
const [major, minor] = process.versions.node.split('.').map(Number);
// require(esm) without a flag: Node 20.19+, 22.12+, 23+.
const requireEsm = major > 22 || (major === 22 && minor >= 12) || (major === 20 && minor >= 19);

/** The environment of a child npm: none of the outer `npm test`'s npm_* settings. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')));
  return { ...env, BERTORCH_PYTHON: PYTHON, ...extra };
}

function sh(cmd: string, args: string[], opts: SpawnSyncOptions & { cwd: string }) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 1_500_000, env: cleanEnv(), ...opts });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`, stdout: String(r.stdout ?? '') };
}

let packed: Promise<string> | undefined;
/** `npm pack` once (its prepack compiles dist/ and stores the prebuilt binary). */
function tarball(): Promise<string> {
  packed ??= Promise.resolve().then(() => {
    const dest = mkdtempSync(path.join(tmpdir(), 'bt-pack-'));
    const r = sh('npm', ['pack', '--json', '--pack-destination', dest], { cwd: repo });
    if (r.status !== 0) throw new Error(`npm pack failed:\n${r.out}`);
    const json = JSON.parse(r.stdout.slice(r.stdout.indexOf('[')));
    return path.join(dest, json[0].filename as string);
  });
  return packed;
}

/** A PATH with node and npm but no compiler and no cmake (links to the tools an install needs). */
function pathWithoutCompiler(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'bt-path-'));
  const nodeBin = path.dirname(process.execPath);
  for (const tool of ['node', 'npm', 'npx']) symlinkSync(path.join(nodeBin, tool), path.join(dir, tool));
  for (const tool of ['sh', 'bash', 'env', 'uname', 'cat', 'ls', 'mkdir', 'rm', 'cp', 'mv', 'ldd', 'flock']) {
    const hit = ['/usr/bin', '/bin'].map((d) => path.join(d, tool)).find(existsSync);
    if (hit) symlinkSync(hit, path.join(dir, tool));
  }
  return dir;
}

/** A fresh app with bertorch installed from the tarball; returns its folder and the install's output. */
async function installApp(extraEnv: Record<string, string>): Promise<{ app: string; out: string; status: number | null; seconds: number }> {
  const tgz = await tarball();
  const app = mkdtempSync(path.join(tmpdir(), 'bt-app-'));
  copyFileSync(tgz, path.join(app, path.basename(tgz)));
  for (const f of readdirSync(FIXTURE)) copyFileSync(path.join(FIXTURE, f), path.join(app, f));
  const spec = `file:${path.basename(tgz)}`;
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, dependencies: { bertorch: spec } }, null, 2));
  // The lockfile pins bertorch's dependencies to this checkout's, so --offline
  // needs only the tarballs in npm's cache, not the registry's metadata.
  writeFileSync(path.join(app, 'package-lock.json'), JSON.stringify(appLockfile(repo, path.join(app, path.basename(tgz)), spec), null, 2));
  const t0 = Date.now();
  const r = sh('npm', ['install', '--offline', '--no-audit', '--no-fund', '--foreground-scripts'], { cwd: app, env: cleanEnv(extraEnv) });
  return { app, out: r.out, status: r.status, seconds: (Date.now() - t0) / 1000 };
}

/** Everything a service does with the installed package; each check names what failed. */
async function useApp(t: ExecutionContext, app: string, env: Record<string, string>, expect: { prebuilt: boolean }) {
  const run = (args: string[]) => sh(process.execPath, args, { cwd: app, env: cleanEnv(env) });
  const esm = run(['app.mjs']);
  t.is(esm.status, 0, esm.out);
  const lines = esm.stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  const info = lines[0]?.info;
  t.is(info?.prebuilt, expect.prebuilt, esm.out);
  t.true(info?.binary.startsWith(path.join(app, 'node_modules', 'bertorch')), info?.binary);
  t.true(info?.distributedBackends.includes('gloo'), esm.out);
  t.deepEqual(lines[1]?.labels, ['shipping', 'refund'], esm.out);
  t.log(`app.mjs: ${JSON.stringify(info)}; train loss ${lines[1]?.trainLoss}`);

  // The README's node:http handler, serving the model app.mjs saved.
  const served = await serve(app, { ...env, MODEL_DIR: lines[1].model }, ['where is my parcel number 7', 'please refund order 8']);
  t.deepEqual(served.map((p: { label: string }) => p.label), ['shipping', 'refund']);

  if (requireEsm) {
    const cjs = run(['app.cjs']);
    t.is(cjs.status, 0, cjs.out);
    t.is(JSON.parse(cjs.stdout.trim().split('\n').pop()!).sum, 6);
  } else t.log(`Node ${process.version} has no require(esm): the CommonJS check is skipped`);

  const tsc = path.join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
  const typecheck = (file: string, skipLibCheck = true) => {
    writeFileSync(path.join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: {
      module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, skipLibCheck,
      types: ['node'], typeRoots: [path.join(repo, 'node_modules', '@types')] }, files: [file] }));
    return run([tsc, '-p', 'tsconfig.json']);
  };
  const good = typecheck('check.ts');
  t.is(good.status, 0, good.out);
  const bad = typecheck('wrong.ts');
  t.not(bad.status, 0, 'wrong.ts must not type-check');
  t.regex(bad.out, /wrong\.ts.*Type 'number' is not assignable to type 'string'/);
  // With skipLibCheck off, bertorch's own declarations have no errors (the
  // tokenizers package's index.d.ts has some of its own, not ours to fix).
  const strict = typecheck('check.ts', false);
  t.deepEqual(strict.out.split('\n').filter((l) => l.includes('node_modules/bertorch/')), []);

  const help = sh('npx', ['--no-install', 'bertorch', '--help'], { cwd: app, env: cleanEnv(env) });
  t.is(help.status, 0, help.out);
  t.regex(help.out, /Usage: bertorch <command>/);
  // The app has no tsx: a TypeScript entry point is refused before any rank starts, naming the fix.
  const ts = sh('npx', ['--no-install', 'bertorch-run', '--nproc', '2', 'job.ts'], { cwd: app, env: cleanEnv(env) });
  t.is(ts.status, 2, ts.out);
  t.regex(ts.out, /tsx .*is not installed.*npm install --save-dev tsx/s);
}

/** Starts server.mjs, POSTs texts to /predict, stops it; resolves to the predictions. */
async function serve(app: string, env: Record<string, string>, texts: string[]): Promise<any> {
  const server = spawn(process.execPath, ['server.mjs'], { cwd: app, env: cleanEnv({ ...env, PORT: '0' }), stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const [line] = (await once(server.stdout!.setEncoding('utf8'), 'data')) as [string];
    const port = Number(/listening on (\d+)/.exec(line)?.[1]);
    const res = await fetch(`http://127.0.0.1:${port}/predict`, { method: 'POST', body: JSON.stringify({ texts }) });
    return await res.json();
  } finally {
    server.kill('SIGTERM');
    await once(server, 'exit');
  }
}

test.serial('the packed tarball carries dist/ with declarations and source maps and the prebuilt binary with its libtorch version', async (t) => {
  const tgz = await tarball();
  const list = sh('tar', ['-tzf', tgz], { cwd: repo }).stdout.split('\n');
  t.log(`${path.basename(tgz)}: ${(statSync(tgz).size / 1e6).toFixed(1)} MB, ${list.filter(Boolean).length} files`);
  for (const f of ['dist/lib/index.js', 'dist/lib/index.d.ts', 'dist/lib/index.js.map', 'dist/binding.d.ts', 'dist/lib/cli.js',
    'prebuilds/linux-x64/node.napi.node', 'prebuilds/linux-x64/bertorch.json', 'scripts/install.mjs', 'scripts/gloo.mjs', 'bin/load.js'])
    t.true(list.includes(`package/${f}`), `${f} is not in the tarball`);
  t.false(list.includes('package/tsconfig.json'), 'tsconfig.json marks a checkout and must not be packed');
  t.false(list.some((f) => f.startsWith('package/build/')), 'no local build in the tarball');
});

test.serial('installed from the tarball with no compiler and no cmake on PATH, the prebuilt binary loads and nothing is compiled', async (t) => {
  t.timeout(600_000);
  const PATH = pathWithoutCompiler();
  t.teardown(() => rmSync(PATH, { recursive: true, force: true }));
  t.is(spawnSync('cmake', ['--version'], { env: { PATH } }).error?.message.includes('ENOENT'), true);
  const env = { PATH };
  const { app, out, status, seconds } = await installApp(env);
  t.teardown(() => rmSync(app, { recursive: true, force: true }));
  t.is(status, 0, out);
  t.regex(out, /bertorch: native addon loads \(libtorch \d+\.\d+\.\d+\); nothing to build/);
  t.false(existsSync(path.join(app, 'node_modules', 'bertorch', 'build')), 'something was compiled');
  t.log(`npm install <tarball> (prebuilt): ${seconds.toFixed(1)} s`);
  await useApp(t, app, env, { prebuilt: true });
  // No libtorch anywhere (as after `npm install --ignore-scripts` on a new machine): the import's first line says what to run.
  const none = sh(process.execPath, ['--input-type=module', '-e', "import { info } from 'bertorch'; info();"],
    { cwd: app, env: cleanEnv({ PATH, BERTORCH_PYTHON: '/nonexistent/python', BERTORCH_CACHE: path.join(app, 'empty-cache') }) });
  t.not(none.status, 0);
  t.regex(none.out, /Error: bertorch: the prebuilt binary needs libtorch \d+\.\d+\.\d+ and none was found: run `npm rebuild bertorch`/);
});

test.serial('installed from the tarball and compiled from source, the package works the same', async (t) => {
  // About 4 minutes on 2 idle cores (torch/torch.h precompiled); three to four times that when the machine is shared.
  t.timeout(1_800_000);
  const { app, out, status, seconds } = await installApp({ BERTORCH_FORCE_BUILD: '1' });
  t.teardown(() => rmSync(app, { recursive: true, force: true }));
  t.is(status, 0, out);
  t.true(existsSync(path.join(app, 'node_modules', 'bertorch', 'build', 'Release', 'bertorch.node')), out);
  t.regex(out, /Building CXX object CMakeFiles\/bertorch\.dir\/cmake_pch\.hxx\.gch/, 'torch/torch.h is precompiled once');
  t.false(existsSync(path.join(app, 'node_modules', 'bertorch', 'build', 'CMakeFiles', 'bertorch.dir', 'cmake_pch.hxx.gch')),
    'the precompiled header (about 700 MB) is not left in node_modules');
  t.log(`npm install <tarball> (compiled): ${seconds.toFixed(1)} s`);
  // node-gyp-build prefers build/ to prebuilds/: the compiled addon is the one loaded.
  await useApp(t, app, {}, { prebuilt: false });
});

test.after.always(async () => {
  if (packed) rmSync(path.dirname(await packed.catch(() => '/nonexistent/x')), { recursive: true, force: true });
});
