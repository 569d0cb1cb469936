// Data-parallel training over torch.distributed (Gloo) on loopback, with real
// processes started by bertorch-run.
import { type ExecutionContext } from 'ava';
import test from './helpers/gloo.js';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../lib/distributed/launcher.js';
import { BertForSequenceClassification, distributedAvailable, distributedBackends, info, initProcessGroup, TorchError } from '../lib/index.js';
import { fullBatch, STEPS, TINY } from './helpers/dist-data.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const RUN = path.join(here, '..', 'bin', 'bertorch-run.js');
const WORKER = path.join(here, 'helpers', 'dist-worker.ts');

/** The JSON objects the ranks printed (bertorch-run prefixes each line with its rank). */
function jsonLines(stdout: string): any[] {
  return stdout.split('\n').filter((l) => l.includes('{')).map((l) => JSON.parse(l.slice(l.indexOf('{'))));
}

/** Runs a worker mode on 2 ranks; each must exit 0 and print one JSON line, returned. */
function twoRanks(t: ExecutionContext, mode: string): any[] {
  const r = run(2, mode);
  t.is(r.status, 0, r.stdout + r.stderr);
  const lines = jsonLines(r.stdout);
  t.is(lines.length, 2, r.stdout + r.stderr);
  return lines;
}

function run(nproc: number, ...args: string[]) {
  return spawnSync(process.execPath, [RUN, '--nproc', String(nproc), WORKER, ...args], { encoding: 'utf8', timeout: 120_000 });
}

test('this build has torch.distributed with Gloo, and NCCL where the libtorch has CUDA', (t) => {
  t.true(distributedAvailable());
  t.true(distributedBackends().includes('gloo'));
  t.deepEqual(info().distributedBackends, distributedBackends());
  if (info().cudaBuilt) t.log(`backends: ${distributedBackends().join(', ')}`);
});

test('an unknown backend is refused with a clear error', async (t) => {
  await t.throwsAsync(() => initProcessGroup({ backend: 'mpi' as never, worldSize: 1, rank: 0 }), { instanceOf: RangeError, message: /'gloo' or 'nccl' for backend/ });
});

// Where NCCL is built and no GPU is present (this CI); on a GPU machine test/nccl.test.ts runs an NCCL group.
const ncclWithoutGpu = distributedBackends().includes('nccl') && !info().cudaAvailable ? test : test.skip;
ncclWithoutGpu('an NCCL group without a GPU is refused with a clear error', async (t) => {
  const masterPort = await freePort();
  await t.throwsAsync(() => initProcessGroup({ backend: 'nccl', worldSize: 1, rank: 0, masterPort, timeoutMs: 5000 }), { instanceOf: TorchError, message: /'nccl' needs a CUDA device/ });
});

test('allReduce, broadcast, allGather and barrier agree across two processes', (t) => {
  const r = run(2, 'collectives');
  t.is(r.status, 0, r.stderr);
  const lines = jsonLines(r.stdout);
  t.is(lines.length, 2);
  for (const l of lines) {
    t.deepEqual(l.sum, [3, 30]);
    t.deepEqual(l.bcast, [42]);
    t.deepEqual(l.gathered, [0, 1]);
  }
});

test('collectives and models that differ across ranks fail with TorchDistError on every rank instead of aborting', (t) => {
  const lines = twoRanks(t, 'mismatch');
  for (const l of lines) {
    t.regex(l.shape, /TorchDistError: allReduce: the ranks passed different tensors.*rank 0 has 3 elements.*rank 1 has 5 elements/);
    t.regex(l.dtype, /TorchDistError: allReduce: .*of another shape or dtype/);
    t.regex(l.gather, /TorchDistError: allGather: the ranks passed different tensors/);
    t.regex(l.train, /TorchDistError: gradient all-reduce: the ranks passed different tensors/);
    t.is(l.after, 'ok');
  }
});

test('a non-finite gradient or loss on one rank skips (or fails) that step on every rank, and the ranks stay equal', (t) => {
  const lines = twoRanks(t, 'nonfinite');
  for (const l of lines) {
    t.deepEqual(l.skipped, [false, true, false, true], `rank ${l.rank}`);
    t.is(l.steps, 2);
    t.true(Number.isFinite(l.sum));
  }
  t.regex(lines.find((l) => l.rank === 0).thrown, /non-finite loss or gradient norm on another rank \(loss 0\.5 here\) at optimizer step 3/);
  t.regex(lines.find((l) => l.rank === 1).thrown, /non-finite loss \(nan\) at optimizer step 3/);
  t.is(lines[0].sum, lines[1].sum);
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

test('the all-reduce overlapped with backward launches buckets before backward returns and matches the post-backward reference', (t) => {
  const r = run(2, 'overlap');
  t.is(r.status, 0, r.stdout + r.stderr);
  const lines = r.stdout.split('\n').filter((l) => l.includes('"rank"')).map((l) => JSON.parse(l.slice(l.indexOf('{'))));
  t.is(lines.length, 2);
  for (const l of lines) {
    t.log(`rank ${l.rank}: ${JSON.stringify(l.stats)}; max parameter difference overlap vs reference ${l.diff.toExponential(2)}, with 2 micro-batches ${l.diffAccum.toExponential(2)}, checkpointed ${l.diffCheckpointed.toExponential(2)}`);
    const { overlap, overlapAccum, reference, referenceAccum } = l.stats;
    t.true(overlap.buckets > 4, 'small buckets: many of them');
    t.is(overlap.reductions, l.steps);
    t.true(overlap.launchedInBackward > 0, 'some buckets left during backward');
    t.is(overlapAccum.reductions, l.steps, 'one reduction per window: the micro-batch before the last did not sync');
    t.true(overlapAccum.launchedInBackward > 0);
    t.is(reference.reductions, 0);
    t.is(referenceAccum.reductions, 0);
    t.true(l.diff <= 1e-6);
    t.true(l.diffAccum <= 1e-6);
    t.true(l.diffAccumVsFull <= 1e-5, 'two half micro-batches give the full batch gradient');
    t.true(l.stats.checkpointed.launchedInBackward > 0, 'hooks also fire in the nested backward of checkpointed layers');
    t.true(l.diffCheckpointed <= 1e-6);
  }
});

/** Runs a worker mode in which rank 1 dies; rank 0 must report a TorchDistError within 10 s and the launcher fail. */
function survivorSeesDeath(t: ExecutionContext, mode: string) {
  const r = run(2, mode);
  t.not(r.status, 0);
  const line = r.stdout.split('\n').find((l) => l.includes('"dist"'));
  t.truthy(line, r.stdout + r.stderr);
  const res = JSON.parse(line!.slice(line!.indexOf('{')));
  t.log(`rank 0: ${res.name}: ${res.message} after ${res.ms} ms`);
  t.true(res.dist);
  t.true(res.ms < 10_000);
}

test('when a rank dies, the other fails with TorchDistError within the timeout and the launcher exits non-zero', (t) => survivorSeesDeath(t, 'die'));

test('when a rank dies between steps, the next trainStep fails with TorchDistError within the timeout', (t) => survivorSeesDeath(t, 'die-train'));

test('a group destroyed mid-training fails the trainStep from inside backward, and the model trains on without it', async (t) => {
  const pg = await initProcessGroup({ rank: 0, worldSize: 1, masterPort: await freePort(), timeoutMs: 5000 });
  const m = BertForSequenceClassification.create(TINY, { seed: 1 }).eval();
  m.setProcessGroup(pg, { bucketBytes: 4 << 10 });
  m.configureOptimizer({ lr: 1e-3 });
  await m.trainStep(fullBatch(0));
  t.like(m.gradReducerStats, { reductions: 1 });
  pg.destroy();
  // The first bucket's hook tries to launch its all-reduce on the destroyed group.
  await t.throwsAsync(() => m.trainStep(fullBatch(1)), { instanceOf: TorchError, message: /destroyed/ });
  t.is(m.grads().size, 0, 'the failed step left no partial gradients');
  m.setProcessGroup(null);
  t.is(m.gradReducerStats, null);
  t.true(Number.isFinite((await m.trainStep(fullBatch(2))).loss));
  m.dispose();
});

test('a rendezvous nobody joins times out with a clear error', async (t) => {
  const err = await t.throwsAsync(() => initProcessGroup({ rank: 1, worldSize: 2, masterPort: 1, timeoutMs: 1500 }));
  t.truthy(err);
  await t.throwsAsync(() => initProcessGroup({ rank: 2, worldSize: 2 }), { instanceOf: RangeError, message: /for rank/ });
});
