// The one-pass CPU dropout (native/dropout.cc) against the definition of
// dropout: each element kept with probability 1 - p, independently, and scaled
// by 1 / (1 - p); the gradient through the same mask; the draw decided by
// manualSeed alone (not by the thread count). The statistical bounds are
// 6 standard deviations: a correct kernel fails one about once in 10^8 runs.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BertForSequenceClassification, info, manualSeed, ones, profile, randn, setNumThreads, tensor, type Tensor } from '../lib/index.js';

const N = 1 << 21;  // 2M elements: 2048 blocks of draws, so both threads take part

function keepMask(y: Tensor): Uint8Array {
  const a = y.toArray() as Float32Array;
  return Uint8Array.from(a, (v) => (v !== 0 ? 1 : 0));
}

function within(t: any, observed: number, expected: number, sd: number, what: string) {
  t.true(Math.abs(observed - expected) <= 6 * sd, `${what}: ${observed} vs ${expected} (sd ${sd.toExponential(2)})`);
}

for (const p of [0.1, 0.5, 0.9]) {
  test(`dropout(${p}) keeps 1 - p of the elements, each scaled by 1 / (1 - p)`, (t) => {
    manualSeed(7);
    const y = ones([N]).dropout(p).toArray() as Float32Array;
    const scale = Math.fround(1 / (1 - p));
    let kept = 0;
    let bad = 0;
    for (const v of y) {
      if (v === 0) continue;
      kept++;
      if (v !== scale) bad++;
    }
    t.is(bad, 0, 'every kept element is exactly 1 / (1 - p)');
    within(t, kept / N, 1 - p, Math.sqrt(p * (1 - p) / N), 'kept fraction');
  });
}

test('neighbouring and distant elements are dropped independently', (t) => {
  const p = 0.5;
  manualSeed(11);
  const m = keepMask(ones([N]).dropout(p));
  // Elements 2j and 2j+1 share one 64-bit draw; elements a block (1024) apart
  // come from different blocks, which threads may draw concurrently.
  for (const lag of [1, 2, 1023, 1024, 4096]) {
    let both = 0;
    for (let i = 0; i + lag < N; i++) both += m[i] & m[i + lag];
    const n = N - lag;
    const q = (1 - p) * (1 - p);
    within(t, both / n, q, Math.sqrt(q * (1 - q) / n), `P(keep i and keep i+${lag})`);
  }
});

test('the mask is decided by manualSeed, not by the thread count', (t) => {
  const threads = info().intraOpThreads;
  try {
    manualSeed(3);
    const a = keepMask(ones([N]).dropout(0.3));
    setNumThreads(1);
    manualSeed(3);
    const b = keepMask(ones([N]).dropout(0.3));
    t.deepEqual(a, b);
    setNumThreads(threads);
    manualSeed(4);
    const c = keepMask(ones([N]).dropout(0.3));
    t.notDeepEqual(a, c);
    // Two calls in a row draw different masks.
    t.notDeepEqual(c, keepMask(ones([N]).dropout(0.3)));
  } finally {
    setNumThreads(threads);
  }
});

test('the gradient goes through the same mask and scale', (t) => {
  const p = 0.25;
  const x = randn([1000, 33], { seed: 2 }).requiresGrad_();
  const w = randn([1000, 33], { seed: 3 });
  const y = x.dropout(p);
  y.mul(w).sum().backward();
  const yv = y.toArray() as Float32Array, xv = x.toArray() as Float32Array;
  const gv = x.grad!.toArray() as Float32Array, wv = w.toArray() as Float32Array;
  const scale = Math.fround(1 / (1 - p));
  let mismatches = 0;
  for (let i = 0; i < yv.length; i++) {
    const kept = yv[i] !== 0;
    if (kept && yv[i] !== Math.fround(xv[i] * scale)) mismatches++;
    if (gv[i] !== (kept ? Math.fround(wv[i] * scale) : 0)) mismatches++;
  }
  t.is(mismatches, 0);
});

test('bfloat16 and float64 inputs, NaN and odd sizes behave as at::dropout does', (t) => {
  manualSeed(5);
  const b = ones([4097], { dtype: 'bfloat16' }).dropout(0.5);
  t.is(b.dtype, 'bfloat16');
  t.true([...b.toArray()].every((v) => v === 0 || v === 2));
  const d = ones([3, 5]).to('float64').dropout(0.2);
  t.is(d.dtype, 'float64');
  t.true([...d.toArray()].every((v) => v === 0 || v === 1.25));
  // 0 * NaN is NaN: a dropped NaN stays NaN, as through at::dropout's multiply.
  const nan = tensor(new Float32Array(1001).fill(NaN)).dropout(0.5).toArray();
  t.true([...nan].every(Number.isNaN));
  t.deepEqual([...ones([5]).dropout(0).toArray()], [1, 1, 1, 1, 1]);
  t.deepEqual([...ones([5]).dropout(1).toArray()], [0, 0, 0, 0, 0]);
});

test('a CPU training step uses the one-pass dropout; BERTORCH_FUSED_DROPOUT=0 takes at::dropout', async (t) => {
  const tiny = { vocab_size: 50, hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32, max_position_embeddings: 16 };
  const m = BertForSequenceClassification.create(tiny, { seed: 1 });
  m.configureOptimizer({ lr: 1e-3 });
  const batch = { inputIds: new BigInt64Array(2 * 8).fill(3n), labels: new BigInt64Array([0n, 1n]), shape: [2, 8] as [number, number] };
  const { summary } = await profile(() => m.trainStep(batch), { top: 200 });
  const names = summary.cpuOps.map((r) => r.name);
  t.false(names.includes('aten::bernoulli_'), 'no bernoulli_ in the fused step');
  t.true(names.some((n) => n.includes('FusedDropoutFn')), 'the fused backward ran');
  m.dispose();

  // The reference path, in a child: the switch is read once per process.
  const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./helpers/dropout-reference.ts', import.meta.url))], {
    env: { ...process.env, BERTORCH_FUSED_DROPOUT: '0' }, encoding: 'utf8', timeout: 120_000,
  });
  t.is(child.status, 0, child.stderr);
  const ref = JSON.parse(child.stdout.trim().split('\n').pop()!);
  t.true(ref.ops.includes('aten::bernoulli_'), 'the reference step draws with bernoulli_');
  t.false(ref.ops.some((n: string) => n.includes('FusedDropoutFn')));
  within(t, ref.kept, 0.9, Math.sqrt(0.09 / ref.n), 'reference kept fraction');
});
