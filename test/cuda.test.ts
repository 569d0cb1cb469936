// CUDA: the parity fixture to 1e-4 on the GPU, fused AdamW against the
// reference loop, and bf16 autocast following the float32 loss curve.
// Runs only where libtorch sees a GPU (scripts/gpu-check.sh on a GPU machine).
import test from 'ava';
import { BertForSequenceClassification, BertModel, full, info, randn } from '../lib/index.js';
import { readSafetensors } from '../lib/models/safetensors.js';
import { recordToTensor } from '../lib/models/state.js';
import { BF16_CURVE_TOL, bf16LossCurves } from './helpers/bf16-curve.js';
import { CHECKPOINT, FIXTURE, golden, inputs, labelTensor, maxAbsDiff } from './helpers/parity.js';
import path from 'node:path';

const gpu = info().cudaAvailable;
const cuda = gpu ? test.serial : test.skip;
const TOL = 1e-4;

test('info() reports whether CUDA is available and names the devices', (t) => {
  const i = info();
  t.is(i.cudaDevices.length > 0, i.cudaAvailable);
  if (i.cudaAvailable) t.log(`CUDA ${i.cudaVersion}, cuDNN ${i.cudnn}: ${i.cudaDevices.join(', ')}`);
});

cuda('tensors move to the GPU and back unchanged', async (t) => {
  const x = randn([64, 64], { seed: 1 });
  const g = x.to('cuda');
  t.is(g.device, 'cuda:0');
  const a = (await g.matmul(g).data()) as Float32Array;
  const b = x.matmul(x).toArray() as Float32Array;
  t.true(a.every((v, i) => Math.abs(v - b[i]) < 1e-3 * (1 + Math.abs(b[i]))));
});

async function seqclsOn(device: 'cuda') {
  const m = await BertForSequenceClassification.fromPretrained(CHECKPOINT, { labels: 3 });
  const head = (await readSafetensors(path.join(FIXTURE, 'seqcls_head.safetensors'))).tensors;
  m.loadStateDict(new Map([...head].map(([k, r]) => [k, recordToTensor(k, r)])));
  m.eval().to(device);
  const { batch, all } = await inputs();
  return { m, batch: { ...batch, labels: labelTensor(all, 'seqcls_labels') } };
}

cuda('the parity fixture matches HF on CUDA to 1e-4: hidden states, logits, gradients', async (t) => {
  const { batch } = await inputs();
  const base = (await BertModel.fromPretrained(CHECKPOINT)).eval().to('cuda');
  const gb = await golden('golden_bert.safetensors');
  const out = await base.forward(batch);
  const d = maxAbsDiff(out.logits, gb.get('last_hidden_state')!);
  t.log(`last_hidden_state on CUDA: ${d.toExponential(2)}`);
  t.true(d <= TOL);
  const { m, batch: b } = await seqclsOn('cuda');
  const gs = await golden('golden_seqcls.safetensors');
  await m.forwardBackward(b);
  let worst = 0;
  for (const [name, g] of m.grads()) worst = Math.max(worst, maxAbsDiff(g, gs.get(`grad.${name}`)!));
  t.log(`worst gradient diff on CUDA: ${worst.toExponential(2)}`);
  t.true(worst <= TOL);
});

cuda('fused AdamW on CUDA reaches the HF parameters after two steps to 1e-4', async (t) => {
  const { m, batch } = await seqclsOn('cuda');
  const ga = await golden('golden_adamw.safetensors');
  m.configureOptimizer({ lr: 1e-3, weightDecay: 0.01, decayAll: true, impl: 'fused' });
  await m.trainStep(batch);
  await m.trainStep(batch);
  let worst = 0;
  for (const [name, p] of m.stateDict()) worst = Math.max(worst, maxAbsDiff(p, ga.get(`step2.${name}`)!));
  t.log(`fused AdamW, worst parameter diff after 2 steps: ${worst.toExponential(2)}`);
  t.true(worst <= TOL);
});

// bf16 keeps 8 bits of mantissa: per-step losses differ by ~1e-2 relative.
cuda('bf16 autocast training follows the float32 loss curve within 5%', async (t) => {
  const { fp32, bf16, worstRel } = await bf16LossCurves('cuda');
  t.log(`max relative loss gap over 30 steps: ${worstRel.toFixed(4)}; fp32 ${fp32[0].toFixed(3)} -> ${fp32.at(-1)!.toFixed(3)}, bf16 ${bf16[0].toFixed(3)} -> ${bf16.at(-1)!.toFixed(3)}`);
  t.true(worstRel < BF16_CURVE_TOL);
  t.true(fp32.at(-1)! < fp32[0]);
});

cuda('the Trainer picks CUDA by default and trains with bf16 autocast', async (t) => {
  const { Trainer, ArraySource } = await import('../lib/train/index.js');
  const m = BertForSequenceClassification.create({ vocab_size: 100, hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 4, intermediate_size: 64, max_position_embeddings: 16, id2label: { 0: 'a', 1: 'b' }, label2id: { a: 0, b: 1 } });
  const examples = Array.from({ length: 32 }, (_, i) => ({ inputIds: Array.from({ length: 8 }, (_, j) => 5 + ((i * 3 + j) % 90)), label: i % 2 }));
  const r = await new Trainer(m, { epochs: 2, lr: 1e-3, progress: 'none' }).fit(new ArraySource(examples, { batchSize: 8 }));
  t.is(m.device, 'cuda');
  t.true(Number.isFinite(r.trainLoss));
  m.dispose();
});

cuda('on CUDA a non-finite loss leaves the parameters as they were: the fused update is gated on the device', async (t) => {
  const cfg = { vocab_size: 50, hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32, max_position_embeddings: 16, id2label: { 0: 'a' }, label2id: { a: 0 }, problem_type: 'regression' };
  const m = BertForSequenceClassification.create(cfg, { seed: 1 }).to('cuda');
  m.configureOptimizer({ lr: 1e-2 });
  const bad = { inputIds: new BigInt64Array(2).fill(3n), labels: new Float32Array([1e30 * 1e30]), shape: [1, 2] as [number, number] };
  const good = { ...bad, labels: new Float32Array([0.5]) };
  const snapshot = () => new Map([...m.stateDict()].map(([k, v]) => [k, v.toArray() as Float32Array]));
  const before = snapshot();
  await t.throwsAsync(() => m.trainStep(bad), { message: /non-finite loss \(inf\) at optimizer step 1/ });
  const r = await m.trainStep(bad, { skipNonFinite: true });
  t.true(r.skipped);
  t.is(m.optimizerStepCount, 0);
  for (const [k, v] of snapshot()) t.deepEqual(v, before.get(k), k);
  const ok = await m.trainStep(good, { maxGradNorm: 1 });
  t.false(ok.skipped);
  t.is(m.optimizerStepCount, 1);
  t.true(ok.gradNorm > 0 && Number.isFinite(ok.loss));
  m.dispose();
});

cuda('on CUDA a finite loss with an inf gradient is gated the same way, in trainStep and optimizerStep', async (t) => {
  const cfg = { vocab_size: 50, hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32, max_position_embeddings: 16 };
  const m = BertForSequenceClassification.create(cfg, { seed: 1 }).to('cuda');
  m.configureOptimizer({ lr: 1e-2 });
  const batch = { inputIds: new BigInt64Array([2n, 5n]), labels: new BigInt64Array([1n]), shape: [1, 2] as [number, number] };
  const snapshot = () => new Map([...m.stateDict()].map(([k, v]) => [k, v.toArray() as Float32Array]));
  const before = snapshot();
  const name = 'classifier.weight';
  const inf = () => m.setGrads(new Map([[name, full(m.stateDict().get(name)!.shape, Infinity).to('cuda')]]));
  inf();  // trainStep's backward adds to it
  await t.throwsAsync(() => m.trainStep(batch), { message: /non-finite gradient norm \(inf; loss [0-9.]+\) at optimizer step 1/ });
  inf();
  t.true((await m.trainStep(batch, { skipNonFinite: true })).skipped);
  inf();
  t.true((await m.optimizerStep({ skipNonFinite: true })).skipped);
  t.is(m.optimizerStepCount, 0);
  for (const [k, v] of snapshot()) t.deepEqual(v, before.get(k), k);
  m.dispose();
});
