// lib/search: the exact index equals a brute-force scan in float64 (across
// row blocks: 70,000 rows > two blocks of 32,768), keeps equal answers after
// remove / add and a save / load round trip, and refuses bad input clearly;
// the HNSW index (hnswlib-node) answers behind the same interface and its
// recall@10 against the exact index is printed.
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ExactIndex, HnswIndex, type SearchResults } from '../lib/search/index.js';
import { TorchValueError } from '../lib/errors.js';

function rng(seed: number) {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32 - 0.5; };
}
function matrix(n: number, d: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n * d }, r);
}
// Clustered unit vectors, the shape of real embeddings (ANN on uniform noise is a worst case).
function clustered(n: number, d: number, seed: number, clusters = 50): Float32Array {
  const r = rng(seed);
  const c = Float32Array.from({ length: clusters * d }, r);
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const k = Math.floor((r() + 0.5) * clusters) % clusters;
    let norm = 0;
    for (let j = 0; j < d; j++) { const v = c[k * d + j] + 0.3 * r(); out[i * d + j] = v; norm += v * v; }
    for (let j = 0; j < d; j++) out[i * d + j] /= Math.sqrt(norm);
  }
  return out;
}

/** Brute force in float64: the k best (id, score) of each query. */
function brute(rows: Float32Array, ids: number[], queries: Float32Array, d: number, k: number, metric: 'cosine' | 'dot') {
  const norm = (v: Float32Array, i: number) => (metric === 'cosine' ? Math.hypot(...v.subarray(i * d, (i + 1) * d)) || 1 : 1);
  const rn = ids.map((_, i) => norm(rows, i));
  const out: Array<Array<{ id: number; score: number }>> = [];
  for (let q = 0; q < queries.length / d; q++) {
    const qn = norm(queries, q);
    const s = ids.map((id, i) => {
      let dot = 0;
      for (let j = 0; j < d; j++) dot += queries[q * d + j] * rows[i * d + j];
      return { id, score: dot / (qn * rn[i]) };
    });
    s.sort((a, b) => b.score - a.score);
    out.push(s.slice(0, k));
  }
  return out;
}

/** Same ids in the same order, except where two scores tie within 1e-5; scores within 1e-5. */
function sameAsBrute(t: any, r: SearchResults, want: ReturnType<typeof brute>) {
  let maxDiff = 0;
  want.forEach((w, q) => {
    const got = r.hits(q);
    t.is(got.length, w.length);
    got.forEach((h, j) => {
      maxDiff = Math.max(maxDiff, Math.abs(h.score - w[j].score));
      if (h.id !== w[j].id) t.true(Math.abs(h.score - w[j].score) < 1e-5, `query ${q} rank ${j}: id ${h.id} vs ${w[j].id}`);
    });
  });
  t.true(maxDiff < 1e-5, `max score diff ${maxDiff}`);
  return maxDiff;
}

test('exact top-k equals a float64 brute-force scan across row blocks, for cosine and dot', async (t) => {
  const n = 70_000, d = 16, k = 7;
  const rows = matrix(n, d, 1);
  const ids = Array.from({ length: n }, (_, i) => 1_000_000 + 3 * i);
  const queries = matrix(12, d, 2);
  for (const metric of ['cosine', 'dot'] as const) {
    const ix = new ExactIndex(d, metric);
    await ix.add(ids.slice(0, 40_000), rows.subarray(0, 40_000 * d));
    await ix.add(ids.slice(40_000), rows.subarray(40_000 * d));
    t.is(ix.size, n);
    const r = await ix.search(queries, k);
    t.is(r.queries, 12);
    const diff = sameAsBrute(t, r, brute(rows, ids, queries, d, k, metric));
    t.log(`${metric}: max |score - float64| ${diff.toExponential(2)} over 12 queries x ${n} rows`);
    ix.dispose();
  }
});

test('remove and add keep the answers exact, and a short index pads with -1 / -Infinity', async (t) => {
  const d = 8, n = 500;
  const rows = matrix(n, d, 3);
  const ids = Array.from({ length: n }, (_, i) => i);
  const ix = new ExactIndex(d, 'cosine');
  await ix.add(ids, rows);
  const gone = ids.filter((i) => i % 3 === 0);
  t.is(await ix.remove([...gone, 10_000]), gone.length);
  const keep = ids.filter((i) => i % 3 !== 0);
  const keepRows = new Float32Array(keep.length * d);
  keep.forEach((id, j) => keepRows.set(rows.subarray(id * d, (id + 1) * d), j * d));
  const queries = matrix(5, d, 4);
  sameAsBrute(t, await ix.search(queries, 10), brute(keepRows, keep, queries, d, 10, 'cosine'));
  await ix.add([0], rows.subarray(0, d));  // an id removed may come back
  t.is(ix.size, keep.length + 1);
  const small = new ExactIndex(d, 'dot');
  await small.add([5, 6], rows.subarray(0, 2 * d));
  const r = await small.search(queries.subarray(0, d), 4);
  t.deepEqual(Array.from(r.ids.subarray(2)), [-1, -1]);
  t.deepEqual(Array.from(r.scores.subarray(2)), [-Infinity, -Infinity]);
  t.is(r.hits(0).length, 2);
});

test('save and load round-trip ids, rows and metric; a damaged file is refused naming it', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'bt-index-'));
  try {
    const d = 24, n = 40_000;
    const rows = matrix(n, d, 5);
    const ix = new ExactIndex(d, 'cosine');
    await ix.add(Array.from({ length: n }, (_, i) => i * 7), rows);
    await ix.remove([7, 14]);
    const file = path.join(dir, 'a.index');
    await ix.save(file);
    const back = await ExactIndex.load(file);
    t.is(back.dim, d);
    t.is(back.metric, 'cosine');
    t.is(back.size, n - 2);
    const q = matrix(6, d, 6);
    const [a, b] = [await ix.search(q, 5), await back.search(q, 5)];
    t.deepEqual(Array.from(a.ids), Array.from(b.ids));
    t.deepEqual(Array.from(a.scores), Array.from(b.scores));
    t.deepEqual(Array.from(await back.get([21])), Array.from(await ix.get([21])));
    await t.throwsAsync(back.get([7]), { message: /id 7 is not in the index/ });
    await writeFile(path.join(dir, 'bad.index'), 'not an index');
    await t.throwsAsync(ExactIndex.load(path.join(dir, 'bad.index')), { instanceOf: TorchValueError, message: /bad\.index is not a bertorch index file/ });
    await t.throwsAsync(ExactIndex.load(path.join(dir, 'missing.index')), { instanceOf: TorchValueError, message: /cannot read .*missing\.index/ });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('bad arguments are refused before crossing into native code', async (t) => {
  const ix = new ExactIndex(4);
  await t.throwsAsync(ix.add([1, 1], new Float32Array(8)), { instanceOf: RangeError, message: /ids that are unique \(1 repeats\) for ids\[1\]/ });
  await t.throwsAsync(ix.add([1.5], new Float32Array(4)), { instanceOf: RangeError, message: /non-negative safe integer for ids\[0\]/ });
  await t.throwsAsync(ix.add([1], new Float32Array(5)), { instanceOf: RangeError, message: /multiple of dim/ });
  await t.throwsAsync(ix.add([1], [1, 2, 3, 4] as never), { instanceOf: TypeError, message: /Float32Array for vectors/ });
  await ix.add([1], new Float32Array(4).fill(1));
  await t.throwsAsync(ix.add([1], new Float32Array(4)), { instanceOf: TorchValueError, message: /id 1 is already in the index/ });
  await t.throwsAsync(ix.search(new Float32Array(4), 0), { instanceOf: RangeError, message: /k/ });
  t.throws(() => new ExactIndex(0), { instanceOf: RangeError });
  t.throws(() => new ExactIndex(4, 'l2' as never), { instanceOf: RangeError, message: /'cosine' or 'dot' for metric/ });
  ix.dispose();
  ix.dispose();
  t.throws(() => ix.size, { message: /disposed/ });
});

test('the HNSW index answers behind the same interface; recall@10 against the exact index is printed', async (t) => {
  const n = 5000, d = 64, Q = 200, k = 10;
  const rows = clustered(n, d, 7);
  const queries = clustered(Q, d, 8);
  const ids = Array.from({ length: n }, (_, i) => i + 1);
  const exact = new ExactIndex(d, 'cosine');
  const ann = new HnswIndex(d, 'cosine', { capacity: 100 });
  await exact.add(ids, rows);
  await ann.add(ids, rows);
  t.is(ann.size, n);
  const [e, a] = [await exact.search(queries, k), await ann.search(queries, k)];
  let hit = 0;
  for (let q = 0; q < Q; q++) {
    const want = new Set(e.hits(q).map((h) => h.id));
    hit += a.hits(q).filter((h) => want.has(h.id)).length;
  }
  const recall = hit / (Q * k);
  t.log(`HNSW (M 16, efSearch 64) recall@10 vs exact: ${recall.toFixed(4)} on ${n} x ${d}`);
  t.true(recall > 0.8);
  t.true(Math.abs(a.hits(0)[0].score - e.hits(0)[0].score) < 1e-4 || a.hits(0)[0].id !== e.hits(0)[0].id);
  t.is(await ann.remove([1, 2, 999_999]), 2);
  t.is(ann.size, n - 2);
  const dir = await mkdtemp(path.join(tmpdir(), 'bt-hnsw-'));
  try {
    await ann.save(path.join(dir, 'a.hnsw'));
    const back = await HnswIndex.load(path.join(dir, 'a.hnsw'));
    t.is(back.size, n - 2);
    const b = await back.search(queries.subarray(0, 5 * d), k);
    t.deepEqual(Array.from(b.ids), Array.from((await ann.search(queries.subarray(0, 5 * d), k)).ids));
    t.false(Array.from(b.ids).includes(1));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
