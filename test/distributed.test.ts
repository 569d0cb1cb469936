// Data-parallel training over torch.distributed (Gloo) on loopback, with real
// processes started by bertorch-run.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BertForSequenceClassification, distributedAvailable, initProcessGroup } from '../lib/index.js';
import { fullBatch, STEPS, TINY } from './helpers/dist-data.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const RUN = path.join(here, '..', 'bin', 'bertorch-run.js');
const WORKER = path.join(here, 'helpers', 'dist-worker.ts');

function run(nproc: number, ...args: string[]) {
  return spawnSync(process.execPath, [RUN, '--nproc', String(nproc), WORKER, ...args], { encoding: 'utf8', timeout: 120_000 });
}

test('this build has torch.distributed with Gloo', (t) => {
  t.true(distributedAvailable());
});

test('allReduce, broadcast, allGather and barrier agree across two processes', (t) => {
  const r = run(2, 'collectives');
  t.is(r.status, 0, r.stderr);
  const lines = r.stdout.split('\n').filter((l) => l.includes('{')).map((l) => JSON.parse(l.slice(l.indexOf('{'))));
  t.is(lines.length, 2);
  for (const l of lines) {
    t.deepEqual(l.sum, [3, 30]);
    t.deepEqual(l.bcast, [42]);
    t.deepEqual(l.gathered, [0, 1]);
  }
});

test('2 processes with batch B reach the same parameters as 1 process with batch 2B', async (t) => {
  const out = path.join(mkdtempSync(path.join(tmpdir(), 'bt-ddp-')), 'params.json');
  const r = run(2, 'train', out);
  t.is(r.status, 0, r.stdout + r.stderr);
  const ddp = JSON.parse(readFileSync(out, 'utf8')) as Record<string, number[]>;
  const ref = BertForSequenceClassification.create(TINY, { seed: 10 }).eval();
  ref.configureOptimizer({ lr: 1e-3, eps: 1e-6 });
  for (let s = 0; s < STEPS; s++) await ref.trainStep(fullBatch(s));
  let worst = 0;
  for (const [k, p] of ref.stateDict()) {
    const a = p.toArray() as Float32Array;
    const b = ddp[k];
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  }
  t.log(`max parameter difference after ${STEPS} steps: ${worst.toExponential(2)}`);
  t.true(worst <= 1e-5);
  ref.dispose();
});

test('when a rank dies, the other fails with TorchDistError within the timeout and the launcher exits non-zero', (t) => {
  const r = run(2, 'die');
  t.not(r.status, 0);
  const line = r.stdout.split('\n').find((l) => l.includes('"dist"'));
  t.truthy(line, r.stdout + r.stderr);
  const res = JSON.parse(line!.slice(line!.indexOf('{')));
  t.log(`rank 0: ${res.name}: ${res.message} after ${res.ms} ms`);
  t.true(res.dist);
  t.true(res.ms < 10_000);
});

test('a rendezvous nobody joins times out with a clear error', async (t) => {
  const err = await t.throwsAsync(() => initProcessGroup({ rank: 1, worldSize: 2, masterPort: 1, timeoutMs: 1500 }));
  t.truthy(err);
  await t.throwsAsync(() => initProcessGroup({ rank: 2, worldSize: 2 }), { instanceOf: RangeError, message: /for rank/ });
});
