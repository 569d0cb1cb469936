// CUDA graphs for training steps: refused clearly where they cannot run, and
// on a GPU the replayed steps follow the eager ones. A file of its own, so a
// failed capture cannot poison the other CUDA tests' process.
import test from 'ava';
import { BertForMaskedLM, BertForSequenceClassification, info, TorchValueError } from '../lib/index.js';

const gpu = info().cudaAvailable;
const cuda = gpu ? test.serial : test.skip;
// No dropout: eager and replayed steps then draw nothing and must agree.
const cfg = { vocab_size: 120, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 64, max_position_embeddings: 32,
  hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 };
const labels2 = { id2label: { 0: 'a', 1: 'b' }, label2id: { a: 0, b: 1 } };

function batches(n: number, mlm: boolean) {
  return Array.from({ length: n }, (_, s) => {
    const ids = new BigInt64Array(8 * 16).map((_, i) => BigInt(((i * 7 + s * 13) % 110) + 5));
    const labels = mlm
      ? ids.map((v, i) => ((i * 5 + s) % 7 === 0 ? v : -100n))
      : new BigInt64Array(8).map((_, i) => BigInt((i + s) % 2));
    return { inputIds: ids, labels, shape: [8, 16] as [number, number] };
  });
}

test('CUDA graphs are refused with a clear error on a CPU model', (t) => {
  const m = BertForSequenceClassification.create({ ...cfg, ...labels2 });
  t.throws(() => m.cudaGraphs(true), { instanceOf: TorchValueError, message: /CUDA device|not in this build/ });
  t.throws(() => m.cudaGraphs('yes' as never), { instanceOf: TypeError });
  m.dispose();
});

cuda('CUDA graphs are refused for a model with gradient checkpointing (its recompute cannot be captured)', (t) => {
  const m = BertForSequenceClassification.create({ ...cfg, ...labels2, gradient_checkpointing: true } as never).to('cuda');
  t.throws(() => m.cudaGraphs(true), { instanceOf: TorchValueError, message: /gradient checkpointing/ });
  m.dispose();
});

async function curve(mlm: boolean, graphs: boolean, steps = 10) {
  const m = mlm ? BertForMaskedLM.create(cfg, { seed: 7 }) : BertForSequenceClassification.create({ ...cfg, ...labels2 }, { seed: 7 });
  m.train().to('cuda');
  if (graphs) m.cudaGraphs(true);
  m.configureOptimizer({ lr: 1e-3, schedule: 'linear', warmupSteps: 2, totalSteps: steps });
  const losses: number[] = [];
  for (const b of batches(steps, mlm)) losses.push((await m.trainStep(b, { maxGradNorm: 1 })).loss);
  const replays = m.graphReplays;
  const state = new Map([...m.stateDict()].map(([k, v]) => [k, v.toArray() as Float32Array]));
  m.dispose();
  return { losses, replays, state };
}

for (const mlm of [false, true]) {
  cuda(`${mlm ? 'MLM' : 'sequence classification'}: steps replayed from a CUDA graph follow the eager steps`, async (t) => {
    const eager = await curve(mlm, false);
    const graphed = await curve(mlm, true);
    t.is(eager.replays, 0);
    t.is(graphed.replays, 7);  // 3 eager warm-up steps, then capture and replay
    const gap = Math.max(...eager.losses.map((l, i) => Math.abs(l - graphed.losses[i]) / Math.abs(l)));
    let pmax = 0;
    for (const [k, v] of eager.state) { const w = graphed.state.get(k)!; for (let i = 0; i < v.length; i++) pmax = Math.max(pmax, Math.abs(v[i] - w[i])); }
    t.log(`max relative loss gap ${gap.toExponential(2)}, max parameter gap ${pmax.toExponential(2)}`);
    t.true(gap < 1e-4, `loss gap ${gap}`);
    t.true(pmax < 1e-4, `parameter gap ${pmax}`);
  });
}

cuda('a replayed step with a non-finite loss leaves the parameters as they were, and a new batch shape captures again', async (t) => {
  const m = BertForSequenceClassification.create({ ...cfg, id2label: { 0: 'a' }, label2id: { a: 0 }, problem_type: 'regression' }, { seed: 3 }).to('cuda');
  m.cudaGraphs(true);
  m.configureOptimizer({ lr: 1e-2 });
  const ids = new BigInt64Array(4 * 8).fill(5n);
  const good = { inputIds: ids, labels: new Float32Array([0.5, 0.1, 0.2, 0.3]), shape: [4, 8] as [number, number] };
  for (let i = 0; i < 5; i++) await m.trainStep(good);
  t.is(m.graphReplays, 2);
  const before = new Map([...m.stateDict()].map(([k, v]) => [k, v.toArray() as Float32Array]));
  const bad = { ...good, labels: new Float32Array([1e30 * 1e30, 0, 0, 0]) };
  const r = await m.trainStep(bad, { skipNonFinite: true });
  t.true(r.skipped);
  t.is(m.graphReplays, 3);
  t.is(m.optimizerStepCount, 5);
  for (const [k, v] of m.stateDict()) t.deepEqual(v.toArray(), before.get(k), k);
  const wider = { inputIds: new BigInt64Array(4 * 12).fill(6n), labels: good.labels, shape: [4, 12] as [number, number] };
  for (let i = 0; i < 5; i++) t.true(Number.isFinite((await m.trainStep(wider)).loss));
  t.is(m.graphReplays, 2);  // the new shape warmed up 3 steps, captured, replayed twice
  m.dispose();
});

test('a Trainer with cudaGraphs on a CPU model fails at the start with the same clear error', async (t) => {
  const { Trainer, ArraySource } = await import('../lib/train/index.js');
  const m = BertForSequenceClassification.create({ ...cfg, ...labels2 });
  const examples = Array.from({ length: 8 }, (_, i) => ({ inputIds: [5, 6, 7, 8 + i], label: i % 2 }));
  await t.throwsAsync(() => new Trainer(m, { device: 'cpu', cudaGraphs: true, progress: 'none' }).fit(new ArraySource(examples, { batchSize: 4 })),
    { instanceOf: TorchValueError, message: /CUDA device|not in this build/ });
  t.throws(() => new Trainer(m, { cudaGraphs: 1 as never }), { instanceOf: TypeError, message: /cudaGraphs/ });
  m.dispose();
});

cuda('the Trainer replays fixed-shape steps from a CUDA graph', async (t) => {
  const { Trainer, ArraySource } = await import('../lib/train/index.js');
  const m = BertForSequenceClassification.create({ ...cfg, ...labels2 }, { seed: 1 });
  const examples = Array.from({ length: 64 }, (_, i) => ({ inputIds: Array.from({ length: 12 }, (_, j) => 5 + ((i * 3 + j) % 100)), label: i % 2 }));
  const r = await new Trainer(m, { epochs: 1, lr: 1e-3, progress: 'none', cudaGraphs: true }).fit(new ArraySource(examples, { batchSize: 8 }));
  t.true(Number.isFinite(r.trainLoss));
  t.is(m.graphReplays, 8 - 3);
  m.dispose();
});
