// bertorch-run starts TypeScript entry points the way tsx supports
// (`node --import tsx`), and a tsx that fails to load is reported, not
// swallowed. (The case of no tsx at all is in packaging.test.ts: an app
// installed from the tarball has none.)
import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const RUN = fileURLToPath(new URL('../bin/bertorch-run.js', import.meta.url));
// TypeScript-only syntax: plain node would fail on it.
const JOB = `interface Rank { rank: number }\nconst r: Rank = { rank: Number(process.env.RANK) };\nconsole.log(\`rank \${r.rank} of \${process.env.WORLD_SIZE}\`);\n`;

function project(t: ExecutionContext): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'bt-launch-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'job.ts'), JOB);
  return dir;
}

test('a .ts entry point runs on 2 ranks under bertorch-run --nproc 2', (t) => {
  const dir = project(t);
  const r = spawnSync(process.execPath, [RUN, '--nproc', '2', 'job.ts'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  t.is(r.status, 0, r.stdout + r.stderr);
  t.regex(r.stdout, /rank 0 of 2/);
  t.regex(r.stdout, /rank 1 of 2/);
});

test('a tsx that fails to register is reported with its error and a non-zero exit', (t) => {
  const dir = project(t);
  // The script's project has a tsx whose loader throws (a broken install): it is the one used, and its error shows.
  const tsx = path.join(dir, 'node_modules', 'tsx');
  mkdirSync(tsx, { recursive: true });
  writeFileSync(path.join(tsx, 'package.json'), JSON.stringify({ name: 'tsx', version: '0.0.0', exports: './loader.mjs' }));
  writeFileSync(path.join(tsx, 'loader.mjs'), "throw new Error('tsx could not register its loader (broken install)');\n");
  const r = spawnSync(process.execPath, [RUN, '--nproc', '2', 'job.ts'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  t.not(r.status, 0);
  t.regex(r.stderr, /tsx could not register its loader \(broken install\)/);
  t.regex(r.stderr, /rank \d exited with 1/);
});
