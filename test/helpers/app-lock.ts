// A package-lock.json for a fresh app that depends on bertorch's tarball, with
// bertorch's dependency tree copied from this checkout's lockfile (same
// versions, same integrity hashes). With it, `npm install --offline` takes
// every package from npm's cache by hash and never needs the registry's
// metadata, which a fresh machine's cache may not hold.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';

type Entry = { version?: string; dependencies?: Record<string, string>; optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>; peerDependenciesMeta?: Record<string, { optional?: boolean }>; [k: string]: unknown };

/** Where `name` resolves from the package at `from` in an npm tree (nested first, then up to the root). */
function resolveIn(packages: Record<string, Entry>, from: string, name: string): string | undefined {
  let dir = from;
  for (;;) {
    const key = dir ? `${dir}/node_modules/${name}` : `node_modules/${name}`;
    if (packages[key]) return key;
    if (!dir) return undefined;
    const i = dir.lastIndexOf('/node_modules/');
    dir = i < 0 ? '' : dir.slice(0, i);
  }
}

export function appLockfile(repo: string, tarball: string, spec: string) {
  const pkg = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8'));
  const lock = JSON.parse(readFileSync(path.join(repo, 'package-lock.json'), 'utf8')) as { packages: Record<string, Entry> };
  const out: Record<string, Entry> = {};
  const visit = (from: string, deps: Record<string, string> = {}, optional = false) => {
    for (const name of Object.keys(deps)) {
      const key = resolveIn(lock.packages, from, name);
      if (!key) {
        if (optional) continue;  // an optional dependency for another platform
        throw new Error(`${name} (needed by ${from || 'bertorch'}) is not in package-lock.json`);
      }
      if (out[key]) continue;
      const { dev: _d, devOptional: _o, peer: _p, ...entry } = lock.packages[key];
      out[key] = entry;
      const required = Object.entries(entry.peerDependencies ?? {}).filter(([n]) => !entry.peerDependenciesMeta?.[n]?.optional);
      visit(key, entry.dependencies);
      visit(key, entry.optionalDependencies, true);
      visit(key, Object.fromEntries(required));
    }
  };
  visit('', pkg.dependencies);
  const integrity = 'sha512-' + createHash('sha512').update(readFileSync(tarball)).digest('base64');
  return {
    name: 'app', version: '1.0.0', lockfileVersion: 3, requires: true,
    packages: {
      '': { name: 'app', version: '1.0.0', dependencies: { bertorch: spec } },
      'node_modules/bertorch': { version: pkg.version, resolved: spec, integrity, license: pkg.license, hasInstallScript: true,
        dependencies: pkg.dependencies, bin: pkg.bin, engines: pkg.engines },
      ...out,
    },
  };
}
