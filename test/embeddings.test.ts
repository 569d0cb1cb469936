// SentenceEncoder against sentence-transformers: all-MiniLM-L6-v2's vectors
// for 210 varied texts (short, long and truncated at max_seq_length 256,
// non-ASCII, odd whitespace) from scripts/fixtures/make-embedding-reference.py,
// checked in under test/fixtures/embeddings, so no Python runs here. Mean
// pooling + Normalize as the folder says, and CLS / max pooling on 32 texts.
// Tolerance: cosine >= 0.99999 and max |diff| <= 1e-5 per vector (issue 15).
import test from 'ava';
import { readFileSync } from 'node:fs';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SentenceEncoder, SentenceFolderError, readSentenceFolder } from '../lib/embeddings/index.js';
import { miniLMGate } from './helpers/minilm.js';

const FIX = fileURLToPath(new URL('./fixtures/embeddings/', import.meta.url));
const meta = JSON.parse(readFileSync(path.join(FIX, 'minilm-reference.json'), 'utf8')) as {
  dim: number; maxSeqLength: number; rows: { mean: number; cls: number; max: number }; texts: string[];
};
const buf = readFileSync(path.join(FIX, 'minilm-reference.f32'));
const ref = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
const D = meta.dim;
const refRows = (start: number, n: number) => ref.subarray(start * D, (start + n) * D);

function compare(got: Float32Array, want: Float32Array, n: number): { minCos: number; maxAbs: number } {
  let minCos = 1;
  let maxAbs = 0;
  for (let r = 0; r < n; r++) {
    let dot = 0, ga = 0, wa = 0;
    for (let c = 0; c < D; c++) {
      const g = got[r * D + c], w = want[r * D + c];
      dot += g * w; ga += g * g; wa += w * w;
      maxAbs = Math.max(maxAbs, Math.abs(g - w));
    }
    minCos = Math.min(minCos, dot / Math.sqrt(ga * wa));
  }
  return { minCos, maxAbs: Number.isNaN(maxAbs) ? Infinity : maxAbs };
}

const { dir, test: mtest } = miniLMGate();
let encoder: SentenceEncoder;
test.before(async () => {
  if (dir) encoder = await SentenceEncoder.fromPretrained(dir);
});
test.after.always(async () => { await encoder?.close(); });

mtest('the folder reads as sentence-transformers reads it: mean pooling, Normalize, max_seq_length 256', async (t) => {
  t.is(encoder.pooling, 'mean');
  t.true(encoder.normalize);
  t.is(encoder.maxSeqLength, meta.maxSeqLength);
  t.is(encoder.dim, D);
});

mtest('all-MiniLM-L6-v2 vectors equal sentence-transformers on 210 varied texts (cosine >= 0.99999, max abs <= 1e-5)', async (t) => {
  t.true(meta.texts.length >= 200);
  const got = await encoder.encode(meta.texts, { batchSize: 32 });
  t.is(got.length, meta.texts.length * D);
  const { minCos, maxAbs } = compare(got, refRows(0, meta.rows.mean), meta.rows.mean);
  t.log(`mean+normalize: min cosine ${minCos.toFixed(8)}, max |diff| ${maxAbs.toExponential(2)} over ${meta.rows.mean} texts`);
  t.true(minCos >= 0.99999, `min cosine ${minCos}`);
  t.true(maxAbs <= 1e-5, `max |diff| ${maxAbs}`);
});

mtest('CLS and max pooling equal sentence-transformers on the token embeddings', async (t) => {
  const texts = meta.texts.slice(0, meta.rows.cls);
  for (const [pooling, start] of [['cls', meta.rows.mean], ['max', meta.rows.mean + meta.rows.cls]] as const) {
    const got = await encoder.encode(texts, { pooling, normalize: false, batchSize: 8 });
    const { minCos, maxAbs } = compare(got, refRows(start, texts.length), texts.length);
    t.log(`${pooling}: min cosine ${minCos.toFixed(8)}, max |diff| ${maxAbs.toExponential(2)}`);
    t.true(minCos >= 0.99999 && maxAbs <= 1e-5, `${pooling}: cos ${minCos}, max |diff| ${maxAbs}`);
  }
});

mtest('a text encodes the same alone, in any batch size and next to other lengths', async (t) => {
  const texts = meta.texts.slice(0, 40);
  const a = await encoder.encode(texts, { batchSize: 40 });
  const b = await encoder.encode(texts, { batchSize: 3 });
  const c = await encoder.encode(texts[7]);
  t.true(compare(a, b, 40).maxAbs < 2e-6);
  t.true(compare(a.subarray(7 * D, 8 * D), c, 1).maxAbs < 2e-6);
});

mtest('concurrent calls share forward passes and each gets its own rows', async (t) => {
  const texts = meta.texts.slice(0, 24);
  const alone = await encoder.encode(texts);
  const before = encoder.stats();
  const parts = await Promise.all(texts.map((s) => encoder.encode(s)));
  const after = encoder.stats();
  t.true(after.batches - before.batches < texts.length, `${after.batches - before.batches} forward passes for ${texts.length} calls`);
  parts.forEach((v, i) => t.true(compare(v, alone.subarray(i * D, (i + 1) * D), 1).maxAbs < 2e-6));
});

mtest('an empty text, a non-string and a whitespace-only text are refused naming the index', async (t) => {
  await t.throwsAsync(encoder.encode(['fine', '']), { instanceOf: RangeError, message: /Expected a non-empty string .* for texts\[1\] but received ""/ });
  await t.throwsAsync(encoder.encode(''), { instanceOf: RangeError, message: /for text but received ""/ });
  await t.throwsAsync(encoder.encode(['ok', 3 as never]), { instanceOf: TypeError, message: /Expected a string for texts\[1\] but received 3/ });
  await t.throwsAsync(encoder.encode(['ok', '  \t ']), { instanceOf: RangeError, message: /texts\[1\]/ });
  await t.throwsAsync(encoder.encode(['ok'], { pooling: 'sum' as never }), { instanceOf: RangeError, message: /'mean', 'cls' or 'max' for pooling/ });
  await t.throwsAsync(encoder.encode(['ok'], { batchSize: 0 }), { instanceOf: RangeError, message: /batchSize/ });
  t.is((await encoder.encode([])).length, 0);
});

test('a plain BERT folder reads as mean pooling without Normalize; unsupported modules name their file', async (t) => {
  const d = await mkdtemp(path.join(tmpdir(), 'bt-st-'));
  try {
    t.like(await readSentenceFolder(d), { pooling: 'mean', normalize: false, sentenceTransformers: false });
    await writeFile(path.join(d, 'modules.json'), JSON.stringify([{ idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
      { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' }, { idx: 2, name: '2', path: '2_Dense', type: 'sentence_transformers.models.Dense' }]));
    await mkdir(path.join(d, '1_Pooling'));
    await writeFile(path.join(d, '1_Pooling', 'config.json'), JSON.stringify({ pooling_mode_cls_token: true }));
    await t.throwsAsync(readSentenceFolder(d), { instanceOf: SentenceFolderError, message: /modules\.json: module 2 \(sentence_transformers\.models\.Dense\) is not supported/ });
    await writeFile(path.join(d, 'modules.json'), JSON.stringify([{ idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
      { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' }]));
    t.like(await readSentenceFolder(d), { pooling: 'cls', normalize: false, sentenceTransformers: true });
    await writeFile(path.join(d, '1_Pooling', 'config.json'), JSON.stringify({ pooling_mode_mean_sqrt_len_tokens: true }));
    await t.throwsAsync(readSentenceFolder(d), { instanceOf: SentenceFolderError, message: /1_Pooling.config\.json: pooling pooling_mode_mean_sqrt_len_tokens is not supported/ });
  } finally {
    await rm(d, { recursive: true, force: true });
  }
});
