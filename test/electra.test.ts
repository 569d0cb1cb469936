// Replaced-token detection (native/electra.cc): the discriminator equals
// transformers' ElectraForPreTraining on test/fixtures/electra-parity (logits,
// loss and every gradient, float32 to 1e-5), and the joint generator +
// discriminator objective trains, saves a BertModel folder and loads back.
import test from 'ava';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BertForReplacedTokenDetection, BertModel, GENERATOR_DIR, generatorSizes, makeConfig } from '../lib/index.js';
import { readSafetensors, toTypedArray, type TensorRecord } from '../lib/models/safetensors.js';
import { recordToTensor } from '../lib/models/state.js';
import { tensor, type Tensor } from '../lib/tensor.js';
import { loadWeightsInto } from '../lib/train/checkpoint.js';
import { maxAbsDiff } from './helpers/parity.js';

const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'electra-parity');
const TOL = 1e-5;

// ElectraForPreTraining's names -> bertorch's: its discriminator is a BertModel.
const ours = (hf: string) => hf.replace(/^electra\./, '');

async function fixture() {
  const read = async (f: string) => (await readSafetensors(path.join(FIXTURE, f))).tensors;
  const [weights, inputs, golden] = await Promise.all([read('model.safetensors'), read('inputs.safetensors'), read('golden.safetensors')]);
  const hf = JSON.parse(await readFile(path.join(FIXTURE, 'config.json'), 'utf8'));
  const m = BertForReplacedTokenDetection.create({
    vocab_size: hf.vocab_size, hidden_size: hf.hidden_size, num_hidden_layers: hf.num_hidden_layers,
    num_attention_heads: hf.num_attention_heads, intermediate_size: hf.intermediate_size,
    max_position_embeddings: hf.max_position_embeddings, hidden_act: hf.hidden_act, layer_norm_eps: hf.layer_norm_eps,
  }).eval();
  const state = new Map([...weights].map(([k, r]) => [ours(k), recordToTensor(k, r)]));
  const report = m.loadStateDict(state);
  for (const t of state.values()) t.dispose();
  const ids = (k: string) => tensor(toTypedArray(inputs.get(k)!) as BigInt64Array, { shape: inputs.get(k)!.shape, dtype: 'int64' });
  const labels = inputs.get('labels')!;
  const batch = {
    inputIds: ids('input_ids'), attentionMask: ids('attention_mask'), tokenTypeIds: ids('token_type_ids'),
    labels: tensor(toTypedArray(labels) as Float32Array, { shape: labels.shape, dtype: 'float32' }),
  };
  return { m, report, batch, golden, weights };
}

function close(t: import('ava').ExecutionContext, ours: Tensor, gold: TensorRecord | undefined, what: string): number {
  if (!gold) { t.fail(`no golden ${what}`); return Infinity; }
  const d = maxAbsDiff(ours, gold);
  t.true(d <= TOL, `${what}: max abs diff ${d} > ${TOL}`);
  return d;
}

test('the discriminator equals ElectraForPreTraining: logits, loss and every gradient', async (t) => {
  const { m, report, batch, golden, weights } = await fixture();
  // Only the generator is not in ElectraForPreTraining.
  t.deepEqual(report.unexpected, []);
  t.true(report.missing.length > 0 && report.missing.every((k) => k.startsWith('generator.')), report.missing.join());
  const out = await m.forward(batch);
  t.deepEqual(out.logits.shape, golden.get('logits')!.shape);
  const dl = close(t, out.logits, golden.get('logits'), 'logits');
  const dloss = close(t, out.loss!, golden.get('loss'), 'loss');
  t.log(`logits max abs diff ${dl.toExponential(2)}, loss ${dloss.toExponential(2)} (loss ${Number(out.loss!.item()).toFixed(6)})`);
  await m.forwardBackward(batch);
  const grads = m.grads();
  let worst = 0;
  let compared = 0;
  for (const hf of weights.keys()) {
    const g = grads.get(ours(hf));
    if (!g) { t.fail(`no gradient for ${ours(hf)}`); continue; }
    worst = Math.max(worst, close(t, g, golden.get(`grad.${hf}`), `grad.${hf}`));
    compared++;
  }
  t.is(compared, weights.size);
  t.false([...grads.keys()].some((k) => k.startsWith('generator.')), 'the discriminator-only loss reached the generator');
  t.log(`gradients of ${compared} parameters: worst max abs diff ${worst.toExponential(2)}`);
  m.dispose();
});

// A fixed MLM batch: ids 5..V-1, masked positions hold [MASK] (4) and their label.
function mlmBatch(B: number, T: number, V: number, seed: number) {
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const ids = new BigInt64Array(B * T);
  const labels = new BigInt64Array(B * T).fill(-100n);
  for (let i = 0; i < B * T; i++) {
    const tok = BigInt(5 + Math.floor(rnd() * (V - 5)));
    if (rnd() < 0.25) { ids[i] = 4n; labels[i] = tok; } else ids[i] = tok;
  }
  return { inputIds: ids, labels, shape: [B, T] as [number, number] };
}

test('the joint objective trains generator and discriminator, and lowers its loss on a fixed batch', async (t) => {
  const V = 40;
  const m = BertForReplacedTokenDetection.create({
    vocab_size: V, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 64,
    hidden_dropout_prob: 0, attention_probs_dropout_prob: 0,
  }, { seed: 7 });
  t.true(m.parameterNames().some((n) => n.startsWith('generator.embeddings_project.')), 'a narrower generator projects the shared embeddings');
  const batch = mlmBatch(8, 16, V, 3);
  await m.forwardBackward(batch);
  const grads = m.grads();
  for (const prefix of ['generator.encoder.', 'generator.dense.', 'discriminator_predictions.', 'embeddings.word_embeddings.', 'encoder.layer.'])
    t.true([...grads.keys()].some((k) => k.startsWith(prefix)), `no gradient for ${prefix}*`);
  for (const g of grads.values()) g.dispose();
  m.zeroGrad();
  m.configureOptimizer({ lr: 3e-3 });
  const losses: number[] = [];
  for (let i = 0; i < 40; i++) losses.push((await m.trainStep(batch)).loss);
  const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
  const first = mean(losses.slice(0, 5));
  const last = mean(losses.slice(-5));
  t.log(`joint loss: first 5 steps ${first.toFixed(3)}, last 5 ${last.toFixed(3)}`);
  // 50 x BCE at chance is about 35; the generator's CE starts near ln(40) = 3.7.
  t.true(first > 20, `first loss ${first}`);
  t.true(last < first * 0.8, `loss went from ${first} to ${last}`);
  m.dispose();
});

test('savePretrained writes a BertModel folder and the generator beside it; both load back', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'bertorch-rtd-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const m = BertForReplacedTokenDetection.create({
    vocab_size: 50, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 64,
    generator_hidden_size: 16, generator_num_attention_heads: 2, generator_num_hidden_layers: 1,
  }, { seed: 1 });
  await m.savePretrained(dir);
  const config = JSON.parse(await readFile(path.join(dir, 'config.json'), 'utf8'));
  t.deepEqual(config.architectures, ['BertModel']);
  const main = (await readSafetensors(path.join(dir, 'model.safetensors'))).tensors;
  const heads = (await readSafetensors(path.join(dir, GENERATOR_DIR, 'model.safetensors'))).tensors;
  t.true([...main.keys()].every((k) => k.startsWith('embeddings.') || k.startsWith('encoder.')), [...main.keys()].join());
  t.true([...heads.keys()].every((k) => k.startsWith('generator.') || k.startsWith('discriminator_predictions.')));
  t.is(main.size + heads.size, m.parameterNames().length);
  t.is(heads.get('generator.embeddings_project.weight')!.shape.join('x'), '16x32');
  // bertorch's BertModel takes the folder with nothing missing but the pooler (ELECTRA has none).
  const bert = await BertModel.fromPretrained(dir);
  t.deepEqual(bert.loadReport!.missing.sort(), ['pooler.dense.bias', 'pooler.dense.weight']);
  t.deepEqual(bert.loadReport!.unexpected, []);
  bert.dispose();
  const back = await BertForReplacedTokenDetection.fromPretrained(dir);
  t.deepEqual(back.loadReport!.missing, []);
  const a = m.stateDict();
  const b = back.stateDict();
  for (const [k, v] of a) {
    const x = v.toArray(), y = b.get(k)!.toArray();
    t.true(x.length === y.length && x.every((e, i) => e === y[i]), `${k} changed in the round trip`);
  }
  for (const v of [...a.values(), ...b.values()]) v.dispose();
  t.truthy(await stat(path.join(dir, GENERATOR_DIR, 'config.json')));
  m.dispose();
  back.dispose();
});

test('checkpoint resume restores the generator and the discriminator head from generator/', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'bertorch-rtd-ckpt-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const config = { vocab_size: 50, hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 4, intermediate_size: 64 };
  const a = BertForReplacedTokenDetection.create(config, { seed: 1 });
  const b = BertForReplacedTokenDetection.create(config, { seed: 2 });
  await a.savePretrained(dir);
  await loadWeightsInto(b, dir);
  const sa = a.stateDict();
  const sb = b.stateDict();
  for (const [k, v] of sa) {
    const x = v.toArray(), y = sb.get(k)!.toArray();
    t.true(x.every((e, i) => e === y[i]), `${k} not restored`);
  }
  t.true([...sa.keys()].some((k) => k.startsWith('generator.')));
  for (const v of [...sa.values(), ...sb.values()]) v.dispose();
  a.dispose();
  b.dispose();
});

test('CUDA graphs are refused for replaced-token detection, whose shapes depend on the data', (t) => {
  const m = BertForReplacedTokenDetection.create({ vocab_size: 50, hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 4, intermediate_size: 64 });
  t.throws(() => m.cudaGraphs(true), { message: /CUDA graphs cannot capture replaced-token detection/ });
  m.dispose();
});

test('derived generator sizes always fit: 11 heads over hidden 44 give a generator of width 11 with 1 head', (t) => {
  const config = { vocab_size: 50, hidden_size: 44, num_hidden_layers: 1, num_attention_heads: 11, intermediate_size: 64 };
  t.deepEqual(generatorSizes(makeConfig(config)), { hidden: 11, heads: 1, intermediate: 16, layers: 1 });
  const m = BertForReplacedTokenDetection.create(config);
  const state = m.stateDict();
  t.deepEqual(state.get('generator.encoder.layer.0.attention.self.query.weight')!.shape, [11, 11]);
  for (const v of state.values()) v.dispose();
  m.dispose();
});

test('a generator size that its heads do not divide is refused, naming the key', (t) => {
  const e = t.throws(() => BertForReplacedTokenDetection.create({ vocab_size: 50, hidden_size: 32, num_attention_heads: 4, intermediate_size: 64, generator_hidden_size: 10, generator_num_attention_heads: 4 }), { instanceOf: RangeError });
  t.regex(e!.message, /generator_hidden_size/);
  const neg = t.throws(() => BertForReplacedTokenDetection.create({ vocab_size: 50, hidden_size: 32, num_attention_heads: 4, intermediate_size: 64, generator_num_hidden_layers: -1 }), { instanceOf: RangeError });
  t.regex(neg!.message, /generator_num_hidden_layers/);
});
