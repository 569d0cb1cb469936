// Skipping padding (ForwardOptions.skipPadding, and every training step) runs
// the per-token layers on real tokens only. Real tokens' outputs must stay
// HF's: checked on the bert-tiny-parity fixture, whose batch is padded.
import test from 'ava';
import path from 'node:path';
import { BertForSequenceClassification, BertForTokenClassification, BertModel, type PreTrainedBert } from '../lib/index.js';
import { readSafetensors, toTypedArray, type TensorRecord } from '../lib/models/safetensors.js';
import { recordToTensor } from '../lib/models/state.js';
import { tensor, type Tensor } from '../lib/tensor.js';
import { CHECKPOINT, FIXTURE, golden, inputs, labelTensor, values } from './helpers/parity.js';

const TOL = 1e-5;

async function withHead<T extends PreTrainedBert>(m: T, file: string): Promise<T> {
  const head = (await readSafetensors(path.join(FIXTURE, file))).tensors;
  m.loadStateDict(new Map([...head].map(([k, r]) => [k, recordToTensor(k, r)])));
  return m;
}

/** The fixture's mask, checked to hold padding (else these tests would prove nothing). */
async function mask(): Promise<{ m: number[]; B: number; T: number }> {
  const { all } = await inputs();
  const r = all.get('attention_mask')!;
  const m = [...(toTypedArray(r) as BigInt64Array)].map(Number);
  return { m, B: r.shape[0], T: r.shape[1] };
}

/** max |ours - gold| over the (B, T, ...) rows where real(b, t); and max |ours| over the others. */
function byRow(ours: Tensor, gold: TensorRecord, real: number[]): { real: number; pad: number } {
  const a = ours.to('float64').toArray() as Float64Array;
  const b = values(gold);
  const per = a.length / real.length;
  let r = 0, p = 0;
  for (let i = 0; i < a.length; i++) {
    if (real[Math.floor(i / per)]) r = Math.max(r, Math.abs(a[i] - b[i]));
    else p = Math.max(p, Math.abs(a[i]));
  }
  return { real: r, pad: p };
}

test('the parity fixture is padded, with real first tokens (what skipping padding needs)', async (t) => {
  const { m, B, T } = await mask();
  t.true(m.some((v) => v === 0), 'no padding in the fixture');
  for (let b = 0; b < B; b++) t.is(m[b * T], 1);
});

test('BertModel with skipPadding: real tokens equal HF, pad rows are 0, pooler equals HF', async (t) => {
  const { batch } = await inputs();
  const { m: real } = await mask();
  const g = await golden('golden_bert.safetensors');
  const m = (await BertModel.fromPretrained(CHECKPOINT)).eval();
  const out = await m.forward(batch, { skipPadding: true });
  const d = byRow(out.logits, g.get('last_hidden_state')!, real);
  t.log(`last_hidden_state at real tokens: max abs diff ${d.real.toExponential(2)}`);
  t.true(d.real <= TOL, `real tokens ${d.real}`);
  t.is(d.pad, 0);
  const p = byRow(out.poolerOutput!, g.get('pooler_output')!, [1, 1, 1]);
  t.true(p.real <= TOL, `pooler ${p.real}`);
  // Without the option the pad rows are HF's own (non-zero) values.
  const full = await m.forward(batch);
  t.true(byRow(full.logits, g.get('last_hidden_state')!, real.map(() => 1)).real <= TOL);
  m.dispose();
});

test('mean-pooled sentence embeddings are the same with and without skipPadding', async (t) => {
  const { batch } = await inputs();
  const m = (await BertModel.fromPretrained(CHECKPOINT)).eval();
  const a = (await m.forward(batch, { pooling: 'mean', normalize: true })).sentenceEmbedding!.toArray() as Float32Array;
  const b = (await m.forward(batch, { pooling: 'mean', normalize: true, skipPadding: true })).sentenceEmbedding!.toArray() as Float32Array;
  const d = Math.max(...a.map((v, i) => Math.abs(v - b[i])));
  t.log(`sentence embeddings: max abs diff ${d.toExponential(2)}`);
  t.true(d <= TOL);
  m.dispose();
});

test('sequence and token classification with skipPadding: logits and loss equal HF at real tokens', async (t) => {
  const { batch, all } = await inputs();
  const { m: real } = await mask();
  const seq = await withHead((await BertForSequenceClassification.fromPretrained(CHECKPOINT, { labels: 3 })).eval(), 'seqcls_head.safetensors');
  const gs = await golden('golden_seqcls.safetensors');
  const s = await seq.forward({ ...batch, labels: labelTensor(all, 'seqcls_labels') }, { skipPadding: true });
  t.true(byRow(s.logits, gs.get('logits')!, [1, 1, 1]).real <= TOL);
  t.true(Math.abs(Number(s.loss!.item()) - values(gs.get('loss')!)[0]) <= TOL);
  const tok = await withHead((await BertForTokenClassification.fromPretrained(CHECKPOINT, { labels: 5 })).eval(), 'tokcls_head.safetensors');
  const gt = await golden('golden_tokcls.safetensors');
  const o = await tok.forward({ ...batch, labels: labelTensor(all, 'tokcls_labels') }, { skipPadding: true });
  const d = byRow(o.logits, gt.get('logits')!, real);
  t.log(`token logits at real tokens: max abs diff ${d.real.toExponential(2)}`);
  t.true(d.real <= TOL);
  t.true(Math.abs(Number(o.loss!.item()) - values(gt.get('loss')!)[0]) <= TOL);
  seq.dispose();
  tok.dispose();
});

test('left padding (a pad at position 0) falls back to the padded path and still equals the full pass', async (t) => {
  const m = BertForSequenceClassification.create({ vocab_size: 50, hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 32 }, { seed: 3 }).eval();
  const ids = tensor(BigInt64Array.from([0n, 0n, 5n, 6n, 7n, 8n, 9n, 10n]), { shape: [2, 4], dtype: 'int64' });
  const left = tensor(BigInt64Array.from([0n, 0n, 1n, 1n, 1n, 1n, 1n, 1n]), { shape: [2, 4], dtype: 'int64' });
  const a = (await m.forward({ inputIds: ids, attentionMask: left })).logits.toArray() as Float32Array;
  const b = (await m.forward({ inputIds: ids, attentionMask: left }, { skipPadding: true })).logits.toArray() as Float32Array;
  t.deepEqual([...b], [...a]);
  m.dispose();
});

test('training with gradient checkpointing skips padding too: the same gradients as without', async (t) => {
  const { batch, all } = await inputs();
  const grads = async (checkpointing: boolean) => {
    const m = await withHead((await BertForSequenceClassification.fromPretrained(CHECKPOINT, {
      labels: 3, config: { gradient_checkpointing: checkpointing, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 },
    } as never)).train(), 'seqcls_head.safetensors');
    await m.forwardBackward({ ...batch, labels: labelTensor(all, 'seqcls_labels') });
    const g = new Map([...m.grads()].map(([k, v]) => [k, v.toArray() as Float32Array]));
    m.dispose();
    return g;
  };
  const plain = await grads(false), ckpt = await grads(true);
  t.is(ckpt.size, plain.size);
  let worst = 0;
  for (const [k, v] of plain) worst = Math.max(worst, ...v.map((x, i) => Math.abs(x - ckpt.get(k)![i])));
  t.log(`checkpointed vs plain gradients: worst max abs diff ${worst.toExponential(2)}`);
  t.true(worst <= 1e-6);
});
