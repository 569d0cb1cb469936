// A rank of the distributed tests (run by bertorch-run). Modes:
//   train OUT  - data-parallel training on this rank's half of a fixed batch;
//                rank 0 writes the final parameters to OUT as JSON
//   collectives - allReduce / broadcast / allGather / barrier; prints results
//   overlap    - the all-reduce overlapped with backward vs the post-backward
//                reference, with and without gradient accumulation; rank 0
//                prints the largest parameter differences and the counters
//   die        - rank 1 exits right after joining; rank 0's next collective
//                must fail with TorchDistError within the timeout
//   die-train  - the same, but rank 0's next collective is a trainStep's
//                overlapped all-reduce
//   mismatch   - the ranks pass tensors of different shapes or dtypes, and
//                models of different sizes; each rank prints the errors
//   nonfinite  - rank 1 alone has an inf gradient, then a NaN window loss;
//                each rank prints which steps it skipped, a parameter sum and
//                the error of a step without skipping
import { writeFileSync } from 'node:fs';
import { BertForSequenceClassification, full, initProcessGroup, PRESETS, tensor, TorchDistError, type Batch } from '../../lib/index.js';
import { TINY, STEPS, fullBatch, sliceBatch } from './dist-data.js';

const [mode, out] = process.argv.slice(2);
const pg = await initProcessGroup({ timeoutMs: mode.startsWith('die') ? 3000 : 30_000 });

if (mode === 'train') {
  const m = BertForSequenceClassification.create(TINY, { seed: 10 + pg.rank }).eval();  // different inits: broadcast must fix it
  m.setProcessGroup(pg);
  await m.broadcastParameters(0);
  m.configureOptimizer({ lr: 1e-3, eps: 1e-6 });  // see dist-data.ts on eps
  for (let s = 0; s < STEPS; s++) await m.trainStep(sliceBatch(fullBatch(s), pg.rank, pg.worldSize));
  if (pg.rank === 0) writeFileSync(out, JSON.stringify(Object.fromEntries([...m.stateDict()].map(([k, t]) => [k, [...(t.toArray() as Float32Array)]]))));
  await pg.barrier();
} else if (mode === 'collectives') {
  const x = tensor([pg.rank + 1, 10 * (pg.rank + 1)]);
  await pg.allReduce(x, 'sum');
  const b = tensor([pg.rank === 1 ? 42 : 0]);
  await pg.broadcast(b, 1);
  const g = await pg.allGather(tensor([pg.rank]));
  await pg.barrier();
  console.log(JSON.stringify({ rank: pg.rank, sum: [...x.toArray()], bcast: [...b.toArray()], gathered: g.map((t) => t.item()) }));
} else if (mode === 'overlap') {
  // BERT-tiny's shape (small vocab) with 64 KB buckets: dozens of buckets, so
  // most can leave before backward ends.
  const cfg = { ...PRESETS.tiny, vocab_size: 1000, max_position_embeddings: 16 };
  const mine = (s: number) => sliceBatch(fullBatch(s), pg.rank, pg.worldSize);
  const halves = (b: Batch) => [0, 1].map((i) => sliceBatch(b as Batch & { shape: [number, number] }, i, 2));
  type M = BertForSequenceClassification;
  const variants: Record<string, (m: M, s: number) => Promise<unknown>> = {
    overlap: (m, s) => m.trainStep(mine(s)),
    reference: async (m, s) => { await m.forwardBackward(mine(s), 1, { sync: false }); await m.optimizerStep(); },
    overlapAccum: async (m, s) => {
      const [a, b] = halves(mine(s));
      await m.forwardBackward(a, 0.5, { sync: false });
      await m.forwardBackward(b, 0.5);
      await m.optimizerStep();
    },
    referenceAccum: async (m, s) => {
      const [a, b] = halves(mine(s));
      await m.forwardBackward(a, 0.5, { sync: false });
      await m.forwardBackward(b, 0.5, { sync: false });
      await m.optimizerStep();
    },
    // Recomputed layers accumulate their gradients in a nested backward.
    checkpointed: (m, s) => m.trainStep(mine(s)),
  };
  const params: Record<string, Float32Array[]> = {}, stats: Record<string, unknown> = {};
  for (const [name, step] of Object.entries(variants)) {
    const ckpt = name === 'checkpointed';
    const c = ckpt ? { ...cfg, gradient_checkpointing: true, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 } : cfg;
    const m = BertForSequenceClassification.create(c as never, { seed: 10 + pg.rank }).train(ckpt);
    m.setProcessGroup(pg, { bucketBytes: 64 << 10 });
    await m.broadcastParameters(0);
    m.configureOptimizer({ lr: 1e-3, eps: 1e-6 });
    for (let s = 0; s < STEPS; s++) await step(m, s);
    params[name] = [...m.stateDict().values()].map((t) => t.toArray() as Float32Array);
    stats[name] = m.gradReducerStats;
    m.dispose();
  }
  const diff = (a: string, b: string) => Math.max(...params[a].map((x, i) => x.reduce((w, v, j) => Math.max(w, Math.abs(v - params[b][i][j])), 0)));
  console.log(JSON.stringify({ rank: pg.rank, steps: STEPS, stats, diff: diff('overlap', 'reference'), diffAccum: diff('overlapAccum', 'referenceAccum'), diffAccumVsFull: diff('overlapAccum', 'overlap'), diffCheckpointed: diff('checkpointed', 'reference') }));
  await pg.barrier();
} else if (mode === 'die-train') {
  const m = BertForSequenceClassification.create(TINY, { seed: 10 }).eval();
  m.setProcessGroup(pg, { bucketBytes: 4 << 10 });
  m.configureOptimizer({ lr: 1e-3 });
  await m.trainStep(sliceBatch(fullBatch(0), pg.rank, pg.worldSize));
  if (pg.rank === 1) process.exit(0);
  const t0 = Date.now();
  try {
    await new Promise((r) => setTimeout(r, 300));
    await m.trainStep(sliceBatch(fullBatch(1), pg.rank, pg.worldSize));
    console.log('UNEXPECTED: trainStep succeeded');
  } catch (e) {
    console.log(JSON.stringify({ dist: e instanceof TorchDistError, name: (e as Error).name, message: (e as Error).message.split('\n')[0], ms: Date.now() - t0 }));
    process.exit(3);
  }
} else if (mode === 'mismatch') {
  // Gloo used to end the process (std::terminate) on each of these.
  const outcome = async (fn: () => Promise<unknown>) => {
    try { await fn(); return 'ok'; } catch (e) { return `${(e as Error).name}: ${(e as Error).message.split('\n')[0]}`; }
  };
  const shape = await outcome(() => pg.allReduce(tensor(new Float32Array(3 + 2 * pg.rank))));
  const dtype = await outcome(() => pg.allReduce(tensor([1, 2], { dtype: pg.rank ? 'float64' : 'float32' })));
  const gather = await outcome(() => pg.allGather(tensor(new Float32Array(1 + pg.rank))));
  const m = BertForSequenceClassification.create({ ...TINY, vocab_size: TINY.vocab_size + 10 * pg.rank }, { seed: 10 });
  m.setProcessGroup(pg);
  m.configureOptimizer({ lr: 1e-3 });
  const train = await outcome(() => m.trainStep(sliceBatch(fullBatch(0), pg.rank, pg.worldSize)));
  const after = await outcome(() => pg.allReduce(tensor([1])));  // the group still works
  console.log(JSON.stringify({ rank: pg.rank, shape, dtype, gather, train, after }));
} else if (mode === 'nonfinite') {
  const m = BertForSequenceClassification.create(TINY, { seed: 10 }).eval();
  m.setProcessGroup(pg);
  await m.broadcastParameters(0);
  m.configureOptimizer({ lr: 1e-3 });
  const skipped: boolean[] = [];
  for (let s = 0; s < 3; s++) {
    // trainStep's backward adds to the gradient already there: inf + g on rank 1 only.
    if (s === 1 && pg.rank === 1) m.setGrads(new Map([['classifier.weight', full(m.stateDict().get('classifier.weight')!.shape, Infinity)]]));
    skipped.push((await m.trainStep(sliceBatch(fullBatch(s), pg.rank, pg.worldSize), { skipNonFinite: true })).skipped);
  }
  // Rank 1's window loss alone is NaN while its gradients are finite (as for
  // an MLM batch with nothing masked): both ranks skip.
  const batch = sliceBatch(fullBatch(3), pg.rank, pg.worldSize);
  await m.forwardBackward(batch, 1);
  skipped.push((await m.optimizerStep({ skipNonFinite: true, loss: pg.rank === 1 ? NaN : 0.5 })).skipped);
  // Without skipping both throw, rather than one rank waiting in the next collective.
  await m.forwardBackward(batch, 1);
  let thrown = 'nothing';
  try { await m.optimizerStep({ loss: pg.rank === 1 ? NaN : 0.5 }); } catch (e) { thrown = (e as Error).message.split('\n')[0]; }
  await pg.barrier();
  const sum = [...m.stateDict().values()].reduce((a, t) => a + (t.toArray() as Float32Array).reduce((x, v) => x + v, 0), 0);
  console.log(JSON.stringify({ rank: pg.rank, skipped, steps: m.optimizerStepCount, sum, thrown }));
} else if (mode === 'die') {
  if (pg.rank === 1) process.exit(0);
  const t0 = Date.now();
  try {
    await new Promise((r) => setTimeout(r, 300));
    await pg.allReduce(tensor([1]));
    console.log('UNEXPECTED: allReduce succeeded');
  } catch (e) {
    console.log(JSON.stringify({ dist: e instanceof TorchDistError, name: (e as Error).name, message: (e as Error).message.split('\n')[0], ms: Date.now() - t0 }));
    process.exit(3);
  }
}
pg.destroy();
