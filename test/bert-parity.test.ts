// The correctness contract: bertorch equals HuggingFace transformers on the
// bert-tiny-parity fixture (outputs, losses, every gradient, two AdamW steps),
// in float32 to 1e-5, never loosened. See test/fixtures/bert-tiny-parity/README.md.
import test from 'ava';
import {
  BertForMaskedLM, BertForSequenceClassification, BertForTokenClassification, BertModel, type PreTrainedBert,
} from '../lib/index.js';
import { readSafetensors } from '../lib/models/safetensors.js';
import { recordToTensor } from '../lib/models/state.js';
import { CHECKPOINT, FIXTURE, golden, inputs, labelTensor, maxAbsDiff } from './helpers/parity.js';
import type { TensorRecord } from '../lib/models/safetensors.js';
import type { Tensor } from '../lib/tensor.js';
import path from 'node:path';

const TOL = 1e-5;

async function withHead<T extends PreTrainedBert>(m: T, file: string): Promise<T> {
  const head = (await readSafetensors(path.join(FIXTURE, file))).tensors;
  const report = m.loadStateDict(new Map([...head].map(([k, r]) => [k, recordToTensor(k, r)])));
  if (report.mismatched.length) throw new Error(report.mismatched.join());
  return m;
}

function expectClose(t: import('ava').ExecutionContext, ours: Tensor, gold: TensorRecord | undefined, what: string, tol = TOL) {
  if (!gold) return t.fail(`no golden ${what}`);
  const d = maxAbsDiff(ours, gold);
  t.log(`${what}: max abs diff ${d.toExponential(2)}`);
  t.true(d <= tol, `${what}: ${d} > ${tol}`);
}

test('BertModel hidden states and pooler equal HF, with SDPA and with the explicit attention path', async (t) => {
  const { batch } = await inputs();
  const m = (await BertModel.fromPretrained(CHECKPOINT)).eval();
  t.deepEqual(m.loadReport!.missing, []);
  const g = await golden('golden_bert.safetensors');
  const fused = await m.forward(batch);
  expectClose(t, fused.logits, g.get('last_hidden_state'), 'last_hidden_state (sdpa)');
  expectClose(t, fused.poolerOutput!, g.get('pooler_output'), 'pooler_output');
  const explicit = await m.forward(batch, { outputAttentions: true, outputHiddenStates: true });
  expectClose(t, explicit.logits, g.get('last_hidden_state'), 'last_hidden_state (explicit)');
  t.is(explicit.attentions!.length, 2);
  t.deepEqual(explicit.attentions![0].shape, [3, 4, 16, 16]);
  t.is(explicit.hiddenStates!.length, 3);
  m.dispose();
});

test('BertForMaskedLM logits and loss equal HF, with the decoder tied to the word embeddings', async (t) => {
  const { batch, all } = await inputs();
  const m = (await BertForMaskedLM.fromPretrained(CHECKPOINT)).eval();
  t.deepEqual(m.loadReport!.missing, []);
  t.false(m.parameterNames().some((n) => n.includes('decoder')));
  const g = await golden('golden_mlm.safetensors');
  const out = await m.forward({ ...batch, labels: labelTensor(all, 'mlm_labels') });
  expectClose(t, out.logits, g.get('logits'), 'mlm logits');
  expectClose(t, out.loss!, g.get('loss'), 'mlm loss');
  m.dispose();
});

test('BertForTokenClassification logits and loss equal HF, ignoring -100 labels', async (t) => {
  const { batch, all } = await inputs();
  const m = await withHead((await BertForTokenClassification.fromPretrained(CHECKPOINT, { labels: 5 })).eval(), 'tokcls_head.safetensors');
  t.deepEqual(m.loadReport!.missing.sort(), ['classifier.bias', 'classifier.weight']);
  const g = await golden('golden_tokcls.safetensors');
  const out = await m.forward({ ...batch, labels: labelTensor(all, 'tokcls_labels') });
  expectClose(t, out.logits, g.get('logits'), 'tokcls logits');
  expectClose(t, out.loss!, g.get('loss'), 'tokcls loss');
  m.dispose();
});

async function seqcls() {
  const m = await withHead((await BertForSequenceClassification.fromPretrained(CHECKPOINT, { labels: 3 })).eval(), 'seqcls_head.safetensors');
  const { batch, all } = await inputs();
  return { m, batch: { ...batch, labels: labelTensor(all, 'seqcls_labels') } };
}

test('BertForSequenceClassification logits, loss and the gradient of every parameter equal HF', async (t) => {
  const { m, batch } = await seqcls();
  const g = await golden('golden_seqcls.safetensors');
  const out = await m.forward(batch);
  expectClose(t, out.logits, g.get('logits'), 'seqcls logits');
  expectClose(t, out.loss!, g.get('loss'), 'seqcls loss');
  const loss = await m.forwardBackward(batch);
  t.true(Math.abs(loss - Number((out.loss!.item()))) < 1e-7);
  const grads = m.grads();
  const names = m.parameterNames();
  t.is(grads.size, names.length);
  let worst = 0;
  for (const name of names) {
    const d = maxAbsDiff(grads.get(name)!, g.get(`grad.${name}`)!);
    worst = Math.max(worst, d);
    t.true(d <= TOL, `grad.${name}: ${d}`);
  }
  t.log(`gradients of ${names.length} parameters: worst max abs diff ${worst.toExponential(2)}`);
  m.dispose();
});

test('two AdamW training steps reach HF parameters and losses', async (t) => {
  const { m, batch } = await seqcls();
  const g = await golden('golden_adamw.safetensors');
  m.configureOptimizer({ lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01, decayAll: true, impl: 'reference' });
  for (const step of [1, 2]) {
    const r = await m.trainStep(batch);
    t.true(Math.abs(r.loss - lossOf(g, `loss_before_step${step}`)) < TOL, `loss before step ${step}`);
    const state = m.stateDict();
    let worst = 0;
    for (const [name, p] of state) {
      const d = maxAbsDiff(p, g.get(`step${step}.${name}`)!);
      worst = Math.max(worst, d);
      t.true(d <= TOL, `step${step}.${name}: ${d}`);
    }
    t.log(`after step ${step}: worst parameter diff ${worst.toExponential(2)}`);
  }
  const after = await m.forward(batch);
  expectClose(t, after.loss!, g.get('loss_after_step2'), 'loss after step 2');
  m.dispose();
});

function lossOf(g: Map<string, TensorRecord>, k: string): number {
  return new Float32Array(g.get(k)!.data.slice().buffer)[0];
}

test('one AdamW update fed HF gradients equals torch.optim.AdamW to 1e-6', async (t) => {
  const { m } = await seqcls();
  const gs = await golden('golden_seqcls.safetensors');
  const ga = await golden('golden_adamw.safetensors');
  const grads = new Map<string, Tensor>();
  for (const name of m.parameterNames()) grads.set(name, recordToTensor(name, gs.get(`grad.${name}`)!));
  m.setGrads(grads);
  m.configureOptimizer({ lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01, decayAll: true, impl: 'reference' });
  const r = await m.optimizerStep();
  t.is(r.lr, 1e-3);
  let worst = 0;
  for (const [name, p] of m.stateDict()) {
    const d = maxAbsDiff(p, ga.get(`step1.${name}`)!);
    worst = Math.max(worst, d);
    t.true(d <= 1e-6, `step1.${name}: ${d}`);
  }
  t.log(`AdamW alone: worst parameter diff ${worst.toExponential(2)}`);
  m.dispose();
});

test('an MLM training step (decoder on the masked rows only) has HF\'s loss and gradients', async (t) => {
  const { batch, all } = await inputs();
  const m = (await BertForMaskedLM.fromPretrained(CHECKPOINT)).eval();
  const g = await golden('golden_mlm.safetensors');
  const loss = await m.forwardBackward({ ...batch, labels: labelTensor(all, 'mlm_labels') });
  t.true(Math.abs(loss - lossOf(g, 'loss')) <= TOL, `loss ${loss}`);
  const grads = m.grads();
  expectClose(t, grads.get('cls.predictions.bias')!, g.get('grad.cls.predictions.bias'), 'grad.cls.predictions.bias');
  let worst = 0;
  for (const name of m.parameterNames()) {
    const gold = g.get(`grad_l2norm.${name}`);
    if (!gold) continue;
    const ours = Math.sqrt([...(grads.get(name)!.toArray() as Float32Array)].reduce((s, v) => s + v * v, 0));
    worst = Math.max(worst, Math.abs(ours - lossOf(g, `grad_l2norm.${name}`)));
  }
  t.log(`MLM gradient L2 norms: worst abs diff ${worst.toExponential(2)}`);
  t.true(worst <= TOL);
  m.dispose();
});
