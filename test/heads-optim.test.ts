// The rest of the model contract against transformers + torch: multi-label,
// regression and pre-training losses, LR schedules, gradient clipping,
// gradient checkpointing, and resuming AdamW from its saved state.
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BertForPreTraining, BertForSequenceClassification, info, labelMaps, manualSeed, randn, type Tensor } from '../lib/index.js';
import { maxDiff, pythonGate, runPython } from './helpers/python.js';
import { BF16_CURVE_TOL, bf16LossCurves } from './helpers/bf16-curve.js';

const python = pythonGate(['torch', 'transformers']);
const TINY = { vocab_size: 60, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 64, max_position_embeddings: 16 };
const SHAPE: [number, number] = [2, 8];
const big = (a: number[]) => BigInt64Array.from(a, BigInt);
const IDS = big([2, 11, 12, 13, 3, 21, 22, 3, 2, 31, 32, 3, 0, 0, 0, 0]);
const MASK = big([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0]);
const BATCH = { inputIds: IDS, attentionMask: MASK, shape: SHAPE };

python.test('multi-label (BCE) and regression (MSE) losses equal transformers', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bt-heads-'));
  try {
    const ml = BertForSequenceClassification.create({ ...TINY, ...labelMaps(['a', 'b', 'c']), problem_type: 'multi_label_classification' }, { seed: 3 }).eval();
    const rg = BertForSequenceClassification.create({ ...TINY, ...labelMaps(1), problem_type: 'regression' }, { seed: 4 }).eval();
    await ml.savePretrained(join(dir, 'ml'));
    await rg.savePretrained(join(dir, 'rg'));
    const mlLoss = Number((await ml.forward({ ...BATCH, labels: new Float32Array([1, 0, 1, 0, 1, 1]) })).loss!.item());
    const rgLoss = Number((await rg.forward({ ...BATCH, labels: new Float32Array([0.5, -1.25]) })).loss!.item());
    const py = runPython<{ ml: number; rg: number }>(`
from transformers import BertForSequenceClassification as M
d = sys.argv[1]
ids = torch.tensor([[2, 11, 12, 13, 3, 21, 22, 3], [2, 31, 32, 3, 0, 0, 0, 0]])
mask = (torch.arange(8) < torch.tensor([[8], [4]])).long()
ml = M.from_pretrained(d + '/ml').eval(); rg = M.from_pretrained(d + '/rg').eval()
with torch.no_grad():
    a = ml(input_ids=ids, attention_mask=mask, labels=torch.tensor([[1., 0, 1], [0, 1, 1]])).loss.item()
    b = rg(input_ids=ids, attention_mask=mask, labels=torch.tensor([0.5, -1.25])).loss.item()
print(json.dumps({'ml': a, 'rg': b}))`, [dir]);
    t.log(`multi-label ${mlLoss} vs ${py.ml}; regression ${rgLoss} vs ${py.rg}`);
    t.true(Math.abs(mlLoss - py.ml) < 1e-5);
    t.true(Math.abs(rgLoss - py.rg) < 1e-5);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

python.test('BertForPreTraining MLM + next-sentence loss and logits equal transformers', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bt-pt-'));
  try {
    const m = BertForPreTraining.create(TINY, { seed: 5 }).eval();
    await m.savePretrained(dir);
    const labels = big([-100, 11, -100, -100, -100, 21, -100, -100, -100, -100, 32, -100, -100, -100, -100, -100]);
    const out = await m.forward({ ...BATCH, labels, nextSentenceLabel: big([0, 1]) });
    const py = runPython<{ loss: number; nsp: number[]; mlm: number[] }>(`
from transformers import BertForPreTraining as M
m = M.from_pretrained(sys.argv[1]).eval()
ids = torch.tensor([[2, 11, 12, 13, 3, 21, 22, 3], [2, 31, 32, 3, 0, 0, 0, 0]])
mask = (torch.arange(8) < torch.tensor([[8], [4]])).long()
lab = torch.full((2, 8), -100); lab[0, 1] = 11; lab[0, 5] = 21; lab[1, 2] = 32
with torch.no_grad():
    o = m(input_ids=ids, attention_mask=mask, labels=lab, next_sentence_label=torch.tensor([0, 1]))
print(json.dumps({'loss': o.loss.item(), 'nsp': o.seq_relationship_logits.flatten().tolist(), 'mlm': o.prediction_logits.flatten().tolist()}))`, [dir]);
    t.true(Math.abs(Number(out.loss!.item()) - py.loss) < 1e-5);
    t.true(maxDiff(out.seqRelationshipLogits!.toArray() as Float32Array, py.nsp) < 1e-5);
    t.true(maxDiff(out.logits.toArray() as Float32Array, py.mlm) < 1e-5);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

python.test('linear, cosine and constant-with-warmup schedules give transformers\' learning rates', async (t) => {
  const py = runPython<Record<string, number[]>>(`
from transformers import get_linear_schedule_with_warmup as L, get_cosine_schedule_with_warmup as C, get_constant_schedule_with_warmup as K
out = {}
for name, f in [('linear', lambda o: L(o, 3, 10)), ('cosine', lambda o: C(o, 3, 10)), ('constant_with_warmup', lambda o: K(o, 3))]:
    p = torch.nn.Parameter(torch.zeros(1)); o = torch.optim.AdamW([p], lr=0.1); s = f(o); lrs = []
    for _ in range(12):
        lrs.append(o.param_groups[0]['lr']); o.step(); s.step()
    out[name] = lrs
print(json.dumps(out))`);
  for (const schedule of ['linear', 'cosine', 'constant_with_warmup'] as const) {
    const m = BertForSequenceClassification.create(TINY);
    m.configureOptimizer({ lr: 0.1, schedule, warmupSteps: 3, totalSteps: 10 });
    const lrs: number[] = [];
    for (let i = 0; i < 12; i++) lrs.push((await m.trainStep({ ...BATCH, labels: big([0, 1]) })).lr);
    t.true(maxDiff(lrs, py[schedule]) < 1e-12, `${schedule}: ${lrs} vs ${py[schedule]}`);
    m.dispose();
  }
});

test('clipping returns the global gradient norm and scales gradients to maxGradNorm', async (t) => {
  const m = BertForSequenceClassification.create(TINY, { seed: 1 }).eval();
  await m.forwardBackward({ ...BATCH, labels: big([0, 1]) });
  let sq = 0;
  for (const g of m.grads().values()) for (const v of g.toArray() as Float32Array) sq += v * v;
  const norm = Math.sqrt(sq);
  const grads = new Map([...m.grads()].map(([k, g]) => [k, g.clone()]));
  m.configureOptimizer({ lr: 1e-3, betas: [0.9, 0.999], weightDecay: 0 });
  const r = await m.optimizerStep({ maxGradNorm: norm / 4 });
  t.true(Math.abs(r.gradNorm - norm) / norm < 1e-5, `${r.gradNorm} vs ${norm}`);
  // After one step exp_avg = (1 - beta1) * clipped grad = 0.1 * g / 4 (torch: coef = max/(norm + 1e-6)).
  const coef = (norm / 4) / (norm + 1e-6);
  const state = m.optimizerState()!;
  let worst = 0;
  for (const [k, g] of grads) worst = Math.max(worst, maxDiff(state.expAvg.get(k)!.toArray() as Float32Array, [...(g.toArray() as Float32Array)].map((v) => 0.1 * coef * v)));
  t.true(worst < 1e-9, `exp_avg vs 0.1 * clipped grad: ${worst}`);
  t.is(m.grads().size, 0, 'gradients are zeroed (set to None) after the step');
});

// Serial: dropout draws from the global generator, which concurrent tests would advance.
for (const bf16 of [false, true]) {
  test.serial(`gradient checkpointing gives the same loss and gradients, dropout included${bf16 ? ', under bf16 autocast (the recompute runs in it too)' : ''}`, async (t) => {
  const run = async (checkpointing: boolean) => {
    // Explicit attention in both runs: SDPA's fused dropout draws differently (see bert.cc).
    const m = BertForSequenceClassification.create({ ...TINY, use_sdpa: false, gradient_checkpointing: checkpointing } as never, { seed: 2 }).train();
    if (bf16) m.autocast('bfloat16');
    manualSeed(123);
    const loss = await m.forwardBackward({ ...BATCH, labels: big([1, 0]) });
    const grads = new Map([...m.grads()].map(([k, g]) => [k, g.toArray() as Float32Array]));
    m.dispose();
    return { loss, grads };
  };
  const plain = await run(false);
  const ckpt = await run(true);
  t.is(ckpt.loss, plain.loss);
  t.is(ckpt.grads.size, plain.grads.size);
  let worst = 0, lastLayer = 0;
  const last = `encoder.layer.${TINY.num_hidden_layers - 1}.`;
  for (const [k, g] of plain.grads) {
    const d = maxDiff(ckpt.grads.get(k)!, g);
    worst = Math.max(worst, d);
    if (k.includes(last)) lastLayer = Math.max(lastLayer, d);
  }
  t.log(`worst gradient difference with checkpointing: ${worst.toExponential(2)} (last layer ${lastLayer.toExponential(2)})`);
  // The last layer's gradients come from its recompute alone, so they are the
  // same bits when the recompute repeats the forward (dtypes included). Below
  // it, the input gradient is summed in another order (~1 ulp of float32,
  // which bf16 rounding can widen).
  t.is(lastLayer, 0);
  t.true(worst < (bf16 ? 1e-5 : 1e-6));
  });
}

test('the fused CPU AdamW (impl auto) follows the reference loop to float32 rounding', async (t) => {
  const batches = [0, 1, 2].map((s) => ({ ...BATCH, labels: big([s % 2, (s + 1) % 2]) }));
  const train = async (impl: 'auto' | 'fused' | 'reference') => {
    const m = BertForSequenceClassification.create(TINY, { seed: 8 }).eval();
    m.configureOptimizer({ lr: 1e-2, weightDecay: 0.1, schedule: 'linear', warmupSteps: 1, totalSteps: 3, impl });
    for (const b of batches) await m.trainStep(b, { maxGradNorm: 1 });
    const params = new Map([...m.stateDict()].map(([k, p]) => [k, p.toArray() as Float32Array]));
    const moments = m.optimizerState()!;
    const v = new Map([...moments.expAvgSq].map(([k, p]) => [k, p.toArray() as Float32Array]));
    const step = m.optimizerStepCount;
    m.dispose();
    return { params, v, step };
  };
  const ref = await train('reference');
  const fused = await train('fused');
  const auto = await train('auto');
  t.is(fused.step, 3);
  let worst = 0, worstV = 0;
  for (const [k, p] of ref.params) {
    worst = Math.max(worst, maxDiff(fused.params.get(k)!, p));
    t.deepEqual(auto.params.get(k), fused.params.get(k), `${k}: auto is the fused kernel on CPU`);
  }
  for (const [k, v] of ref.v) worstV = Math.max(worstV, maxDiff(fused.v.get(k)!, v));
  t.log(`fused vs reference after 3 steps: parameters ${worst.toExponential(2)}, exp_avg_sq ${worstV.toExponential(2)}`);
  t.true(worst < 1e-6 && worstV < 1e-9);
});

test('setGrads() with a transposed gradient updates the same under the fused and the reference AdamW', async (t) => {
  const run = (impl: 'fused' | 'reference') => {
    const m = BertForSequenceClassification.create(TINY, { seed: 4 });
    m.configureOptimizer({ lr: 1e-2, weightDecay: 0, impl });
    const w = 'bert.encoder.layer.0.attention.self.query.weight';  // 32 x 32
    const g = randn([32, 32], { seed: 6 }).transpose(0, 1);  // a non-contiguous view
    m.setGrads(new Map([[w, g]]));
    return m.optimizerStep({}).then(() => {
      const p = m.stateDict().get(w)!.toArray() as Float32Array;
      m.dispose();
      return p;
    });
  };
  const [fused, ref] = [await run('fused'), await run('reference')];
  t.true(maxDiff(fused, ref) < 1e-6, `max diff ${maxDiff(fused, ref)}`);
});

test('AdamW resumed from its saved state continues exactly where it stopped', async (t) => {
  const batches = [0, 1, 2, 3].map((s) => ({ ...BATCH, labels: big([s % 2, (s + 1) % 2]) }));
  const a = BertForSequenceClassification.create(TINY, { seed: 9 }).eval();
  a.configureOptimizer({ lr: 1e-2, schedule: 'linear', warmupSteps: 1, totalSteps: 4 });
  for (const b of batches.slice(0, 2)) await a.trainStep(b);
  const params = new Map([...a.stateDict()].map(([k, p]) => [k, p.clone()]));
  const opt = a.optimizerState()!;
  const b = BertForSequenceClassification.create(TINY, { seed: 77 }).eval();
  b.loadStateDict(params);
  b.configureOptimizer({ lr: 1e-2, schedule: 'linear', warmupSteps: 1, totalSteps: 4 });
  b.loadOptimizerState(opt);
  t.is(b.optimizerStepCount, 2);
  const la: number[] = [];
  const lb: number[] = [];
  for (const x of batches.slice(2)) { la.push((await a.trainStep(x)).loss); lb.push((await b.trainStep(x)).loss); }
  t.deepEqual(lb, la);
  const pa = a.stateDict();
  let worst = 0;
  for (const [k, p] of b.stateDict()) worst = Math.max(worst, maxDiff(p.toArray() as Float32Array, pa.get(k)!.toArray() as Float32Array));
  t.is(worst, 0);
});

python.test('info().cpuBf16 agrees with PyTorch\'s CPU feature checks (AVX512-BF16 or AMX on x86)', (t) => {
  const py = runPython<{ bf16: boolean }>(`
import platform
x86 = platform.machine() in ('x86_64', 'AMD64')
print(json.dumps({'bf16': bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()) if x86 else None}))`);
  if (py.bf16 === null) return t.pass('not x86: PyTorch has no bf16 feature check to compare with');
  t.is(info().cpuBf16, py.bf16);
});

test('bfloat16 autocast on CPU trains and keeps float32 parameters', async (t) => {
  const m = BertForSequenceClassification.create(TINY, { seed: 1 }).autocast('bfloat16');
  m.configureOptimizer({ lr: 1e-3 });
  const r = await m.trainStep({ ...BATCH, labels: big([0, 1]) });
  t.true(Number.isFinite(r.loss));
  t.is((m.stateDict().values().next().value as Tensor).dtype, 'float32');
  t.throws(() => m.autocast('float64' as never), { instanceOf: RangeError });
});

test('bfloat16 autocast on CPU follows the float32 loss curve within the documented 5%', async (t) => {
  const { fp32, bf16, worstRel } = await bf16LossCurves('cpu');
  t.log(`max relative loss gap over 30 steps: ${worstRel.toFixed(4)}; fp32 ${fp32[0].toFixed(3)} -> ${fp32.at(-1)!.toFixed(3)}, bf16 ${bf16[0].toFixed(3)} -> ${bf16.at(-1)!.toFixed(3)}`);
  t.true(worstRel < BF16_CURVE_TOL);
  t.true(worstRel > 0, 'bf16 autocast changed nothing: the two runs computed the same thing');
  t.true(fp32.at(-1)! < fp32[0]);
});
