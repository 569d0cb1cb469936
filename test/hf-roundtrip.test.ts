// Checkpoint folders both ways between bertorch and transformers:
// (a) bertorch savePretrained -> AutoModelForSequenceClassification.from_pretrained
//     gives the same logits and keeps id2label;
// (b) transformers save_pretrained (safetensors) of BertForMaskedLM and
//     BertForTokenClassification -> bertorch fromPretrained gives the same logits;
// (c) a saved BertModel loaded as BertForSequenceClassification reports the new
//     classifier as missing, as transformers does.
// All weights are random (not HF's init) so a misplaced bias or LayerNorm shows.
// One Python run does the transformers side of all three (see helpers/python.ts).
import test, { type ExecutionContext } from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BertForMaskedLM, BertForSequenceClassification, BertForTokenClassification, labelMaps, tensor,
  type PreTrainedBert, type Tensor,
} from '../lib/index.js';
import { maxDiff, pythonGate, runPython } from './helpers/python.js';

const python = pythonGate(['torch', 'transformers', 'safetensors']);
const pyTest = python.test;
const TOL = 1e-5;
const TINY = { vocab_size: 99, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 64, max_position_embeddings: 32 };
const LABELS = ['negative', 'neutral', 'positive'];

// Two rows of 10 tokens; the second is right-padded after 6 (ids 2/3 play [CLS]/[SEP]).
const SHAPE: [number, number] = [2, 10];
const IDS = [2, 17, 45, 88, 3, 61, 9, 30, 72, 3, 2, 54, 8, 96, 3, 40, 0, 0, 0, 0];
const MASK = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0];
const TYPES = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0];
const big = (a: number[]) => BigInt64Array.from(a, BigInt);
const BATCH = { inputIds: big(IDS), attentionMask: big(MASK), tokenTypeIds: big(TYPES), shape: SHAPE };

/** Deterministic N(0,1) draws (mulberry32 + Box-Muller). */
function normals(seed: number): () => number {
  let s = seed >>> 0;
  const u = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return (((x ^ (x >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}

/** Replaces every parameter with random values at scales that keep activations O(1). */
function randomize(m: PreTrainedBert, seed: number): void {
  const next = normals(seed);
  const state = m.stateDict();
  const fresh = new Map<string, Tensor>();
  for (const [name, t] of state) {
    const shape = t.shape;
    const std = name.endsWith('LayerNorm.weight') ? 0.2 : name.includes('embeddings') ? 0.3 : shape.length === 1 ? 0.2 : 1 / Math.sqrt(shape[1]);
    const data = Float32Array.from({ length: t.numel }, () => (name.endsWith('LayerNorm.weight') ? 1 : 0) + std * next());
    fresh.set(name, tensor(data, { shape, dtype: 'float32' }));
    t.dispose();
  }
  const report = m.loadStateDict(fresh);
  if (report.missing.length || report.unexpected.length || report.mismatched.length) throw new Error(`randomize: ${JSON.stringify(report)}`);
  for (const t of fresh.values()) t.dispose();
}

interface PyOut {
  versions: Record<string, string>;
  a: { class: string; logits: number[]; shape: number[]; id2label: Record<string, string>; label2id: Record<string, number>; missing: string[]; unexpected: string[] };
  mlm: { logits: number[]; shape: number[]; files: string[] };
  tokcls: { logits: number[]; shape: number[]; files: string[] };
  c: { missing: string[]; unexpected: string[] };
}

const PY = String.raw`
import os
import transformers
from transformers import (AutoModelForSequenceClassification, BertConfig, BertForMaskedLM,
                          BertForSequenceClassification, BertForTokenClassification, BertModel)
transformers.logging.set_verbosity_error()
req = json.loads(sys.argv[1])
ids, mask, types = (torch.tensor(req[k]).view(req['shape']) for k in ('ids', 'mask', 'types'))

def logits(m):
    with torch.no_grad():
        return m(input_ids=ids, attention_mask=mask, token_type_ids=types).logits

def dump(t):
    return {'logits': t.flatten().tolist(), 'shape': list(t.shape)}

out = {'versions': {'torch': torch.__version__, 'transformers': transformers.__version__}}

# (a) bertorch's folder, loaded by the Auto class
m, info = AutoModelForSequenceClassification.from_pretrained(req['ours'], output_loading_info=True, attn_implementation='eager')
m.eval()
out['a'] = dict(dump(logits(m)), **{'class': type(m).__name__,
    'id2label': {str(k): v for k, v in m.config.id2label.items()}, 'label2id': m.config.label2id,
    'missing': sorted(info['missing_keys']), 'unexpected': sorted(info['unexpected_keys'])})

# (b) transformers' folders, random weights (not HF init)
g = torch.Generator().manual_seed(20240603)
tiny = dict(req['tiny'], hidden_act='gelu', attn_implementation='eager')

def randomize(m):
    with torch.no_grad():
        for n, p in m.named_parameters():
            if n.endswith('LayerNorm.weight'):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
            elif 'embeddings' in n:
                p.copy_(0.3 * torch.randn(p.shape, generator=g))
            elif p.dim() == 1:
                p.copy_(0.2 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g) / p.shape[1] ** 0.5)
    return m.eval()

ner = ['O', 'B-PER', 'I-PER', 'B-LOC']
for key, model in (('mlm', BertForMaskedLM(BertConfig(**tiny))),
                   ('tokcls', BertForTokenClassification(BertConfig(**tiny, id2label=dict(enumerate(ner)),
                                                                     label2id={l: i for i, l in enumerate(ner)})))):
    d = os.path.join(req['work'], key)
    randomize(model).save_pretrained(d, safe_serialization=True)
    out[key] = dict(dump(logits(model)), files=sorted(os.listdir(d)))

# (c) a bare encoder loaded with a new classification head
d = os.path.join(req['work'], 'base')
randomize(BertModel(BertConfig(**tiny))).save_pretrained(d, safe_serialization=True)
_, info = BertForSequenceClassification.from_pretrained(d, num_labels=3, output_loading_info=True)
out['c'] = {'missing': sorted(info['missing_keys']), 'unexpected': sorted(info['unexpected_keys'])}  # sets in transformers 5
print(json.dumps(out))
`;

let work = '';
let py: PyOut;

test.before(async () => {
  if (!python.available) return;
  work = await mkdtemp(join(tmpdir(), 'bertorch-hf-roundtrip-'));
  const ours = BertForSequenceClassification.create({ ...TINY, ...labelMaps(LABELS) }, { seed: 7 });
  randomize(ours, 11);
  await ours.savePretrained(join(work, 'ours'));
  ours.dispose();
  py = runPython<PyOut>(PY, [JSON.stringify({ ours: join(work, 'ours'), work, tiny: TINY, ids: IDS, mask: MASK, types: TYPES, shape: SHAPE })]);
});

test.after.always(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

async function logitsClose(t: ExecutionContext, what: string, m: PreTrainedBert, ref: { logits: number[]; shape: number[] }): Promise<void> {
  const out = await m.forward(BATCH);
  t.deepEqual(out.logits.shape, ref.shape);
  const d = maxDiff(out.logits.toArray() as Float32Array, ref.logits);
  t.log(`${what}: max abs diff ${d.toExponential(2)} (transformers ${py.versions.transformers}, torch ${py.versions.torch})`);
  t.true(d <= TOL, `${what}: max abs diff ${d} > ${TOL}`);
  out.logits.dispose();
}

pyTest('a bertorch BertForSequenceClassification folder loads in transformers with the same logits and labels', async (t) => {
  t.is(py.a.class, 'BertForSequenceClassification');
  t.deepEqual([py.a.missing, py.a.unexpected], [[], []], 'transformers found every weight it needs and nothing else');
  t.deepEqual(py.a.id2label, { 0: 'negative', 1: 'neutral', 2: 'positive' });
  t.deepEqual(py.a.label2id, { negative: 0, neutral: 1, positive: 2 });
  const m = await BertForSequenceClassification.fromPretrained(join(work, 'ours'));
  m.eval();
  t.deepEqual(m.config.id2label, { 0: 'negative', 1: 'neutral', 2: 'positive' });
  await logitsClose(t, 'seqcls bertorch -> transformers', m, py.a);
  m.dispose();
});

pyTest('a transformers BertForMaskedLM folder loads in bertorch with the same logits and nothing missing', async (t) => {
  t.true(py.mlm.files.includes('model.safetensors'), `transformers wrote ${py.mlm.files}`);
  const m = await BertForMaskedLM.fromPretrained(join(work, 'mlm'));
  m.eval();
  t.deepEqual(m.loadReport, { missing: [], unexpected: [], mismatched: [] });
  await logitsClose(t, 'MLM transformers -> bertorch', m, py.mlm);
  m.dispose();
});

pyTest('a transformers BertForTokenClassification folder loads in bertorch with the same logits and labels', async (t) => {
  t.true(py.tokcls.files.includes('model.safetensors'), `transformers wrote ${py.tokcls.files}`);
  const m = await BertForTokenClassification.fromPretrained(join(work, 'tokcls'));
  m.eval();
  t.deepEqual(m.loadReport, { missing: [], unexpected: [], mismatched: [] });
  t.deepEqual(m.config.id2label, { 0: 'O', 1: 'B-PER', 2: 'I-PER', 3: 'B-LOC' });
  await logitsClose(t, 'tokcls transformers -> bertorch', m, py.tokcls);
  m.dispose();
});

pyTest('a BertModel folder loaded as BertForSequenceClassification reports the new classifier as missing, as transformers does', async (t) => {
  const m = await BertForSequenceClassification.fromPretrained(join(work, 'base'), { labels: 3 });
  t.deepEqual([...m.loadReport!.missing].sort(), ['classifier.bias', 'classifier.weight']);
  t.deepEqual([...m.loadReport!.missing].sort(), [...py.c.missing].sort(), 'the same names as transformers reports');
  t.deepEqual([m.loadReport!.unexpected, py.c.unexpected], [[], []]);
  m.dispose();
});
