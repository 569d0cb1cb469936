// The second HF parity fixture (test/fixtures/bert-parity-2, made by
// scripts/make-reference.py; see its README): 3 layers, hidden 48, 4 heads,
// gelu_new, batch 4 x seq 40 with rows of length 40/23/7/1. Forward outputs
// and losses of every head must match transformers to 1e-5.
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BertForMaskedLM, BertForSequenceClassification, BertForTokenClassification, BertModel,
  readSafetensors, recordToTensor, tensor, type Tensor,
} from '../lib/index.js';
import { toTypedArray, type TensorRecord } from '../lib/models/safetensors.js';
import { maxAbsDiff } from './helpers/parity.js';

const FIXTURE = fileURLToPath(new URL('fixtures/bert-parity-2', import.meta.url));
const CHECKPOINT = join(FIXTURE, 'checkpoint');
const TOL = 1e-5;

const read = async (file: string) => (await readSafetensors(join(FIXTURE, file))).tensors;
const ids = (r: TensorRecord): Tensor => tensor(toTypedArray(r) as BigInt64Array, { shape: r.shape, dtype: 'int64' });
const inputs = await read('inputs.safetensors');
const batch = { inputIds: ids(inputs.get('input_ids')!), attentionMask: ids(inputs.get('attention_mask')!), tokenTypeIds: ids(inputs.get('token_type_ids')!) };

/** Asserts max |ours - golden[name]| <= TOL and logs it. */
function close(t: ExecutionContext, what: string, ours: Tensor | undefined, golden: Map<string, TensorRecord>, name: string): void {
  t.truthy(ours, `${what}: no output`);
  const d = maxAbsDiff(ours!, golden.get(name)!);
  t.log(`${what}: max abs diff ${d.toExponential(2)}`);
  t.true(d <= TOL, `${what}: max abs diff ${d} > ${TOL} (shape ${ours!.shape} vs ${golden.get(name)!.shape})`);
}

/** Loads a head file (classifier.weight/bias) into the model; every key must land. */
async function loadHead(t: ExecutionContext, m: BertForSequenceClassification | BertForTokenClassification, file: string): Promise<void> {
  const head = new Map([...await read(file)].map(([k, r]) => [k, recordToTensor(k, r)]));
  const report = m.loadStateDict(head);
  t.deepEqual([report.unexpected, report.mismatched], [[], []]);
  for (const h of head.values()) h.dispose();
}

test('BertModel reproduces last_hidden_state, pooler_output, every hidden state and attention map', async (t) => {
  const m = await BertModel.fromPretrained(CHECKPOINT);
  m.eval();
  t.deepEqual(m.loadReport!.missing, []);
  const g = await read('golden_bert.safetensors');
  const out = await m.forward(batch, { outputHiddenStates: true, outputAttentions: true });
  close(t, 'last_hidden_state', out.logits, g, 'last_hidden_state');
  close(t, 'pooler_output', out.poolerOutput, g, 'pooler_output');
  t.is(out.hiddenStates?.length, 4);
  out.hiddenStates?.forEach((h, i) => close(t, `hidden_states.${i}`, h, g, `hidden_states.${i}`));
  t.is(out.attentions?.length, 3);
  out.attentions?.forEach((a, i) => close(t, `attentions.${i}`, a, g, `attentions.${i}`));
  const plain = await m.forward(batch); // the default (SDPA) attention path
  close(t, 'last_hidden_state (default attention)', plain.logits, g, 'last_hidden_state');
  m.dispose();
});

test('BertForMaskedLM reproduces the MLM logits and loss', async (t) => {
  const m = await BertForMaskedLM.fromPretrained(CHECKPOINT);
  m.eval();
  t.deepEqual(m.loadReport!.missing, []);
  const g = await read('golden_mlm.safetensors');
  const out = await m.forward({ ...batch, labels: ids(inputs.get('mlm_labels')!) });
  close(t, 'MLM logits', out.logits, g, 'logits');
  close(t, 'MLM loss', out.loss, g, 'loss');
  m.dispose();
});

test('BertForSequenceClassification reproduces the logits and loss', async (t) => {
  const m = await BertForSequenceClassification.fromPretrained(CHECKPOINT, { labels: 3 });
  m.eval();
  t.deepEqual(m.loadReport!.missing.sort(), ['classifier.bias', 'classifier.weight']);
  await loadHead(t, m, 'seqcls_head.safetensors');
  const g = await read('golden_seqcls.safetensors');
  const out = await m.forward({ ...batch, labels: ids(inputs.get('seqcls_labels')!) });
  close(t, 'seqcls logits', out.logits, g, 'logits');
  close(t, 'seqcls loss', out.loss, g, 'loss');
  m.dispose();
});

test('BertForTokenClassification reproduces the logits and loss', async (t) => {
  const m = await BertForTokenClassification.fromPretrained(CHECKPOINT, { labels: 5 });
  m.eval();
  t.deepEqual(m.loadReport!.missing.sort(), ['classifier.bias', 'classifier.weight']);
  await loadHead(t, m, 'tokcls_head.safetensors');
  const g = await read('golden_tokcls.safetensors');
  const out = await m.forward({ ...batch, labels: ids(inputs.get('tokcls_labels')!) });
  close(t, 'tokcls logits', out.logits, g, 'logits');
  close(t, 'tokcls loss', out.loss, g, 'loss');
  m.dispose();
});
