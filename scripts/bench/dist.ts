/**
 * torch.distributed on this machine: Gloo all-reduce bandwidth on loopback
 * (2 ranks) and data-parallel scaling of BERT-mini training, 1 process with
 * all cores vs 2 processes with the cores split (bertorch-run sets
 * BERTORCH_NUM_THREADS = cores / nproc), and the 2-process step time with
 * the all-reduce overlapped with backward (trainStep; 25 MB and 1 MB buckets)
 * vs after it (forwardBackward without sync + optimizerStep). JSON lines.
 * Usage: tsx scripts/bench/dist.ts            (the driver)
 * Bus bandwidth = 2 (n-1)/n * bytes / time (the NCCL-tests convention).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BertForSequenceClassification, PRESETS, initProcessGroup, zeros } from '../../lib/index.js';

const self = fileURLToPath(import.meta.url);
const role = process.argv[2] ?? 'driver';
// train2 trials: how gradients are averaged, and the bucket size.
const allReduce = (process.argv[3] ?? 'overlapped') as 'overlapped' | 'after-backward';
const bucketMb = Number(process.argv[4] ?? 25);
const B = 16, T = 128, STEPS = 6, WARMUP = 2;

function batch(rows: number, seed: number) {
  const ids = new BigInt64Array(rows * T).map((_, i) => BigInt(((i * 31 + seed) % 30000) + 5));
  return { inputIds: ids, labels: new BigInt64Array(rows).map((_, i) => BigInt((i + seed) % 2)), shape: [rows, T] as [number, number] };
}

async function worker() {
  const pg = role === 'train1' ? null : await initProcessGroup({ timeoutMs: 120_000 });
  const world = pg?.worldSize ?? 1;
  if (role === 'allreduce') {
    for (const mb of [1, 4, 16, 64]) {
      const t = zeros([(mb << 20) / 4]);
      for (let i = 0; i < 2; i++) await pg!.allReduce(t);
      const n = 5, t0 = performance.now();
      for (let i = 0; i < n; i++) await pg!.allReduce(t);
      const s = (performance.now() - t0) / 1000 / n;
      if (pg!.rank === 0) console.log(JSON.stringify({ bench: 'gloo-allreduce', ranks: world, mb, ms: +(s * 1000).toFixed(2), busGBs: +((2 * (world - 1) / world) * (mb / 1024) / s).toFixed(2) }));
    }
  } else {
    const m = BertForSequenceClassification.create({ ...PRESETS.mini, vocab_size: 30522 }, { seed: 1 }).train();
    if (pg) { m.setProcessGroup(pg, { bucketBytes: bucketMb << 20 }); await m.broadcastParameters(0); }
    m.configureOptimizer({ lr: 1e-4 });
    const rows = B / world;
    const step = async (b: ReturnType<typeof batch>) => {
      if (allReduce === 'overlapped') return m.trainStep(b);
      await m.forwardBackward(b, 1, { sync: false });  // the post-backward reference path
      return m.optimizerStep();
    };
    for (let i = 0; i < WARMUP; i++) await step(batch(rows, i));
    const t0 = performance.now();
    for (let i = 0; i < STEPS; i++) await step(batch(rows, 100 + i * world + (pg?.rank ?? 0)));
    const s = (performance.now() - t0) / 1000;
    const reducer = m.gradReducerStats;
    if (!pg || pg.rank === 0) {
      console.log(JSON.stringify({
        bench: 'ddp-train', model: 'mini', processes: world, globalBatch: B, seq: T, seqPerS: +((B * STEPS) / s).toFixed(2),
        msPerStep: +((s * 1000) / STEPS).toFixed(1),
        ...(pg ? { allReduce, bucketMb, buckets: reducer?.buckets, launchedInBackward: reducer?.launchedInBackward } : {}),
      }));
    }
  }
  pg?.destroy();
}

function driver() {
  const run = path.join(path.dirname(self), '..', '..', 'bin', 'bertorch-run.js');
  const lines: any[] = [];
  const go = (args: string[]) => {
    const r = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 600_000 });
    for (const l of r.stdout.split('\n')) {
      const j = l.indexOf('{');
      if (j >= 0) { const rec = JSON.parse(l.slice(j)); lines.push(rec); console.log(JSON.stringify(rec)); }
    }
    if (r.status !== 0) console.error(r.stderr.slice(-2000));
  };
  go([run, '--nproc', '2', self, 'allreduce']);
  go(['--import', 'tsx', self, 'train1']);
  for (const [mode, mb] of [['overlapped', 25], ['overlapped', 1], ['after-backward', 25]] as const) go([run, '--nproc', '2', self, 'train2', mode, String(mb)]);
  const one = lines.find((l) => l.bench === 'ddp-train' && l.processes === 1);
  const two = lines.find((l) => l.bench === 'ddp-train' && l.processes === 2 && l.allReduce === 'overlapped' && l.bucketMb === 25);
  const post = lines.find((l) => l.bench === 'ddp-train' && l.allReduce === 'after-backward');
  const small = lines.find((l) => l.bench === 'ddp-train' && l.allReduce === 'overlapped' && l.bucketMb === 1);
  if (one && two) console.log(JSON.stringify({ bench: 'ddp-scaling', speedup: +(two.seqPerS / one.seqPerS).toFixed(3), efficiency: +(two.seqPerS / one.seqPerS / 2).toFixed(3), note: 'same 2 cores split between the ranks' }));
  if (two && post && small) {
    console.log(JSON.stringify({
      bench: 'ddp-overlap', afterBackwardMs: post.msPerStep, overlapped25MbMs: two.msPerStep, overlapped1MbMs: small.msPerStep,
      ratio25Mb: +(post.msPerStep / two.msPerStep).toFixed(3), ratio1Mb: +(post.msPerStep / small.msPerStep).toFixed(3), note: 'ratio > 1: overlapping is faster',
    }));
  }
}

if (role === 'driver') driver(); else await worker();
