// Gloo's headers, which torch.distributed's CPU backend (ProcessGroupGloo.hpp)
// includes and libtorch does not ship. Looked for in this order:
//   1. BERTORCH_GLOO_INCLUDE     a folder holding gloo/algorithm.h
//   2. the system                /usr/include, /usr/local/include (libgloo-dev)
//   3. the shared cache          <cache>/gloo-<version>/usr/include
//   4. provisioned               Debian's libgloo-dev, `apt-get download` + `dpkg-deb -x`
//                                into the cache (no root: a private apt list when
//                                the system's is empty)
// BERTORCH_WITHOUT_GLOO=1 builds without Gloo on purpose; otherwise a failure
// stops the install with what is missing and the command that fixes it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { cacheDir } from './find-libtorch.mjs';

const HEADER = path.join('gloo', 'algorithm.h');
export const GLOO_OPT_OUT = 'BERTORCH_WITHOUT_GLOO';
export const GLOO_FIX = 'apt-get install libgloo-dev';

export class GlooError extends Error {}

const has = (dir) => dir && existsSync(path.join(dir, HEADER));

/** The cached headers: <cache>/gloo-<version>/usr/include, newest version first. */
function cached(root) {
  if (!existsSync(root)) return null;
  const dirs = readdirSync(root).filter((d) => d.startsWith('gloo-')).sort().reverse();
  for (const d of dirs) {
    const include = path.join(root, d, 'usr', 'include');
    if (has(include)) return { include, via: `cache (${path.join(root, d)})`, version: d.slice('gloo-'.length) };
  }
  return null;
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 300_000, ...opts });
  const text = `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? r.error.message : ''}`.trim();
  return { ok: r.status === 0, text };
}

/** `apt-get download libgloo-dev` in tmp; with a private package list when the system has none. */
function download(tmp) {
  if (run('apt-get', ['download', 'libgloo-dev'], { cwd: tmp }).ok) return;
  // A fresh container has no package lists, and a user who is not root cannot
  // update the system's: apt keeps a list of its own under tmp for this one download.
  const dirs = ['-o', `Dir::State::Lists=${tmp}/lists`, '-o', `Dir::Cache=${tmp}/cache`];
  for (const d of ['lists/partial', 'cache/archives/partial']) mkdirSync(path.join(tmp, d), { recursive: true });
  const update = run('apt-get', ['-q', ...dirs, '-o', 'Debug::NoLocking=1', 'update'], { cwd: tmp });
  const r = run('apt-get', [...dirs, 'download', 'libgloo-dev'], { cwd: tmp });
  if (!r.ok) throw new GlooError(`\`apt-get download libgloo-dev\` failed: ${(r.text || update.text).split('\n').slice(-2).join(' ')}`);
}

/** Downloads Debian's libgloo-dev and unpacks it (headers only: the library is in libtorch) into the cache. */
export function provisionGloo({ log = () => {} } = {}) {
  if (run('apt-get', ['--version']).ok === false) throw new GlooError('apt-get is not available to fetch libgloo-dev');
  const root = cacheDir();
  mkdirSync(root, { recursive: true });
  const tmp = mkdtempSync(path.join(root, '.gloo-'));
  try {
    log('bertorch: fetching Gloo headers (Debian libgloo-dev, about 50 kB) into ' + root);
    download(tmp);
    const deb = readdirSync(tmp).find((f) => f.endsWith('.deb'));
    const version = deb.split('_')[1].replace(/[^A-Za-z0-9.+-]/g, '-');
    const out = path.join(tmp, 'x');
    const x = run('dpkg-deb', ['-x', path.join(tmp, deb), out]);
    if (!x.ok) throw new GlooError(`\`dpkg-deb -x ${deb}\` failed: ${x.text}`);
    if (!has(path.join(out, 'usr', 'include'))) throw new GlooError(`${deb} holds no ${HEADER}`);
    writeFileSync(path.join(out, 'SOURCE'), `${deb}, unpacked by bertorch's scripts/gloo.mjs\n`);
    const dest = path.join(root, `gloo-${version}`);
    rmSync(dest, { recursive: true, force: true });
    renameSync(out, dest);  // atomic: a concurrent install sees all of it or nothing
    return { include: path.join(dest, 'usr', 'include'), via: `Debian libgloo-dev ${version}, unpacked into ${dest}`, version };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Gloo's include folder, provisioning it when needed. Returns null under
 * BERTORCH_WITHOUT_GLOO=1; throws GlooError naming the fix when none can be had.
 */
export function findGloo({ provision = true, log = () => {} } = {}) {
  if (process.env[GLOO_OPT_OUT]) {
    log(`bertorch: ${GLOO_OPT_OUT} is set: building without the Gloo backend (no CPU data-parallel training)`);
    return null;
  }
  const env = process.env.BERTORCH_GLOO_INCLUDE;
  if (env) {
    if (has(env)) return { include: env, via: 'BERTORCH_GLOO_INCLUDE', version: 'unknown' };
    throw new GlooError(`BERTORCH_GLOO_INCLUDE=${env} holds no ${HEADER}`);
  }
  for (const dir of ['/usr/include', '/usr/local/include']) {
    if (has(dir)) return { include: dir, via: `system (${dir})`, version: 'system' };
  }
  const hit = cached(cacheDir());
  if (hit || !provision) return hit;
  try {
    return provisionGloo({ log });
  } catch (e) {
    if (!(e instanceof GlooError)) throw e;
    throw new GlooError(
      `bertorch: Gloo's headers (gloo/algorithm.h, for torch.distributed's CPU backend) are missing and could not be fetched: ${e.message}\n` +
        `Fix: ${GLOO_FIX}   (or set BERTORCH_GLOO_INCLUDE=/dir/with/gloo; or build without distributed training: ${GLOO_OPT_OUT}=1 npm install)`);
  }
}

// `node scripts/gloo.mjs`: provision (if needed) and print the include folder.
if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    console.log(JSON.stringify(findGloo({ log: console.error })));
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
