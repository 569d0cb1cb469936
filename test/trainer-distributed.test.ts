// Trainer({ processGroup }) with two real processes on loopback: weights start
// equal (broadcast), stay equal (averaged gradients), evaluation is gathered
// from both shards, and only rank 0 writes checkpoints and logs.
import test from './helpers/gloo.js';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

test('two ranks train one model: equal weights and metrics, one writer', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bt-trainer-ddp-'));
  const out = path.join(dir, 'out'), runs = path.join(dir, 'runs');
  const r = spawnSync(process.execPath, [path.join(here, '..', 'bin', 'bertorch-run.js'), '--nproc', '2', path.join(here, 'helpers', 'trainer-dist-worker.ts'), out, runs], { encoding: 'utf8', timeout: 180_000 });
  t.is(r.status, 0, r.stdout + r.stderr);
  const lines = r.stdout.split('\n').filter((l) => l.includes('"rank"')).map((l) => JSON.parse(l.slice(l.indexOf('{'))));
  t.is(lines.length, 2);
  const [a, b] = lines.sort((x, y) => x.rank - y.rank);
  t.deepEqual(a.classifierBias, b.classifierBias, 'parameters identical on both ranks');
  t.deepEqual(a.metrics, b.metrics, 'evaluation gathered from both shards');
  t.log(`gathered eval: ${JSON.stringify(a.metrics)}`);
  t.true(a.metrics.eval_accuracy > 0.5);
  t.true(readdirSync(out).some((d) => d.startsWith('checkpoint-')));
  const log = path.join(runs, 'ddp', 'metrics.jsonl');
  t.true(existsSync(log));
  // Had rank 1 written too, every (step, kind of record) would appear twice.
  const keys = readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => { const r = JSON.parse(l); return `${r.step}:${Object.keys(r).sort()}`; });
  t.is(new Set(keys).size, keys.length);
  t.true(keys.length > 0);
});

test('with gradient accumulation only the last micro-batch of each step all-reduces, and the ranks stay equal', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bt-trainer-ddp-accum-'));
  const r = spawnSync(process.execPath, [path.join(here, '..', 'bin', 'bertorch-run.js'), '--nproc', '2', path.join(here, 'helpers', 'trainer-dist-worker.ts'), path.join(dir, 'out'), path.join(dir, 'runs'), '2'], { encoding: 'utf8', timeout: 180_000 });
  t.is(r.status, 0, r.stdout + r.stderr);
  const lines = r.stdout.split('\n').filter((l) => l.includes('"rank"')).map((l) => JSON.parse(l.slice(l.indexOf('{'))));
  t.is(lines.length, 2);
  const [a, b] = lines.sort((x, y) => x.rank - y.rank);
  t.log(`rank 0: ${a.steps} optimizer steps, reducer ${JSON.stringify(a.reducer)}`);
  t.deepEqual(a.classifierBias, b.classifierBias, 'parameters identical on both ranks');
  t.deepEqual(a.metrics, b.metrics);
  t.true(a.steps > 0);
  t.is(a.reducer.reductions, a.steps, 'one overlapped all-reduce per optimizer step');
  t.true(a.reducer.launchedInBackward > 0);
});
