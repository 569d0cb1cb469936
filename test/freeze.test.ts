// Freezing parameters (PyTorch's requires_grad_(False)): setTrainable turns
// training of named parameters off and on; backward gives a frozen one no
// gradient, AdamW leaves it unchanged to the bit, and the trainable ones get
// the same gradients as when nothing is frozen.
import test from 'ava';
import { BertForMaskedLM } from '../lib/index.js';

const config = { vocab_size: 100, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 64, max_position_embeddings: 64 };
const ids = new Int32Array(16).map((_, i) => 5 + ((i * 7) % 90));
const labels = new Int32Array(16).fill(-100).map((x, i) => (i % 5 === 1 ? ids[i]! : x));
const batch = () => ({ inputIds: ids, labels, shape: [2, 8] as [number, number] });
const isEncoder = (n: string) => n.startsWith('bert.');

function snapshot(m: BertForMaskedLM): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [k, t] of m.stateDict()) { out.set(k, t.toArray() as Float32Array); t.dispose(); }
  return out;
}
function gradArrays(m: BertForMaskedLM): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [k, t] of m.grads()) { out.set(k, t.toArray() as Float32Array); t.dispose(); }
  return out;
}

test('a frozen encoder gets no gradient and stays to the bit; the head trains with the gradients it has unfrozen', async (t) => {
  const m = BertForMaskedLM.create(config, { seed: 3 }).eval();
  const full = BertForMaskedLM.create(config, { seed: 3 }).eval();
  t.teardown(() => { m.dispose(); full.dispose(); });
  const frozen = m.setTrainable(false, isEncoder);
  t.true(frozen.length > 0 && frozen.every(isEncoder));
  t.deepEqual(m.trainableNames(), m.parameterNames().filter((n) => !isEncoder(n)));

  await m.forwardBackward(batch());
  await full.forwardBackward(batch());
  const g = gradArrays(m), gFull = gradArrays(full);
  t.deepEqual([...g.keys()], m.trainableNames(), 'only the trainable parameters have a gradient');
  for (const [k, v] of g) t.deepEqual(v, gFull.get(k), `${k}: the same gradient as with nothing frozen`);

  m.zeroGrad();
  m.configureOptimizer({ lr: 1e-2 });
  const before = snapshot(m);
  await m.trainStep(batch());
  const after = snapshot(m);
  for (const [k, v] of before) {
    if (isEncoder(k)) t.deepEqual(after.get(k), v, `${k} is unchanged`);
    else t.notDeepEqual(after.get(k), v, `${k} moved`);
  }

  t.is(m.setTrainable(true).length, m.parameterNames().length);
  await m.trainStep(batch());
  t.notDeepEqual(snapshot(m).get('bert.encoder.layer.0.attention.self.query.weight'), after.get('bert.encoder.layer.0.attention.self.query.weight'), 'unfrozen, the encoder trains again');
});

test('freezing drops the gradients already there; with everything frozen a step is an error that says so', async (t) => {
  const m = BertForMaskedLM.create(config, { seed: 3 });
  t.teardown(() => m.dispose());
  await m.forwardBackward(batch());
  t.true(m.grads().has('bert.embeddings.word_embeddings.weight'));
  m.setTrainable(false, isEncoder);
  t.false(m.grads().has('bert.embeddings.word_embeddings.weight'), "PyTorch keeps it; AdamW would then move a frozen weight by its momentum");
  m.setTrainable(false);
  t.deepEqual(m.trainableNames(), []);
  m.configureOptimizer({ lr: 1e-2 });
  await t.throwsAsync(m.trainStep(batch()), { message: /every parameter is frozen \(setTrainable\(false\)\): there is nothing to train/ });
});

test('bad arguments to setTrainable are refused with the argument named', (t) => {
  const m = BertForMaskedLM.create(config, { seed: 3 });
  t.teardown(() => m.dispose());
  t.throws(() => m.setTrainable('no' as never), { instanceOf: TypeError, message: /Expected a boolean for on/ });
  t.throws(() => m.setTrainable(false, 'bert.' as never), { instanceOf: TypeError, message: /Expected a function of the parameter name for match/ });
  t.is(m.setTrainable(false, () => false).length, 0);
  t.is(m.trainableNames().length, m.parameterNames().length);
});
