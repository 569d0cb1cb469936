/**
 * Vector search: bertorch's exact index (native block GEMM + topk) against
 * faiss-cpu IndexFlatIP on the same vectors, queries and threads; then the
 * approximate index (HnswIndex, hnswlib-node): build time, queries/s and
 * recall@10 against the exact answers.
 *
 *   .venv/bin/pip install faiss-cpu      # the peer (not needed by npm test)
 *   npx tsx scripts/bench/search.ts [--n 1000000] [--dim 384] [--queries 1000] [--k 10] [--threads 2]
 *       [--ann-n 100000] [--ef 64] [--no-peer]
 *
 * The vectors (clustered, L2-normalised float32, seeded) are written once by
 * peer_search.py to $TMPDIR/bertorch-bench-<n>x<dim>.f32 and read by both
 * sides. Exact: a batch of --queries queries, best of 3, plus single-query
 * latency (median of 20). stdout: JSON lines.
 */
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ExactIndex, HnswIndex } from '../../lib/search/index.js';
import { emit, envFields, intFlag, log, median, now, parseFlags, round, runPeer, runTsChild, useThreads } from './common.js';

const flags = parseFlags(process.argv.slice(2));
const N = intFlag(flags, 'n', 1_000_000);
const D = intFlag(flags, 'dim', 384);
const Q = intFlag(flags, 'queries', 1000);
const K = intFlag(flags, 'k', 10);
const annN = intFlag(flags, 'ann-n', 100_000);
const ef = intFlag(flags, 'ef', 64);
const file = path.join(tmpdir(), `bertorch-bench-${N}x${D}.f32`);
const qfile = path.join(tmpdir(), `bertorch-bench-q${Q}x${D}.f32`);

function f32(p: string): Float32Array {
  const b = readFileSync(p);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}

async function exactChild(): Promise<void> {
  const threads = useThreads(flags);
  const x = f32(file);
  const q = f32(qfile);
  const ix = new ExactIndex(D, 'dot');  // rows are normalised: dot = cosine, as IndexFlatIP
  const t0 = now();
  for (let s = 0; s < N; s += 100_000) {
    const e = Math.min(N, s + 100_000);
    await ix.add(Float64Array.from({ length: e - s }, (_, i) => s + i), x.subarray(s * D, e * D));
  }
  const addS = now() - t0;
  await ix.search(q.subarray(0, 10 * D), K);
  let best = Infinity;
  let ids: Float64Array = new Float64Array();
  for (let r = 0; r < 3; r++) {
    const t = now();
    ids = (await ix.search(q, K)).ids;
    best = Math.min(best, now() - t);
  }
  const single: number[] = [];
  for (let r = 0; r < 20; r++) {
    const t = now();
    await ix.search(q.subarray((r % Q) * D, (r % Q + 1) * D), K);
    single.push(now() - t);
  }
  emit({ bench: 'search', side: 'bertorch', index: 'exact', n: N, dim: D, queries: Q, k: K, add_s: round(addS, 2), batch_s: round(best, 3),
    queries_s: round(Q / best, 1), single_ms: round(median(single) * 1000, 2), top1: Array.from(ids.subarray(0, 5 * K)).filter((_, i) => i % K === 0), ...envFields(threads) });
  // ANN on the first annN rows: recall@10 against the exact answers on the same rows.
  if (annN > 0) {
    const m = Math.min(annN, N);
    const exact = new ExactIndex(D, 'dot');
    await exact.add(Float64Array.from({ length: m }, (_, i) => i), x.subarray(0, m * D));
    const want = await exact.search(q, K);
    const ann = new HnswIndex(D, 'dot', { capacity: m, efSearch: ef });
    const tb = now();
    await ann.add(Float64Array.from({ length: m }, (_, i) => i), x.subarray(0, m * D));
    const buildS = now() - tb;
    const ts = now();
    const got = await ann.search(q, K);
    const searchS = now() - ts;
    let hit = 0;
    for (let i = 0; i < Q; i++) {
      const w = new Set(want.ids.subarray(i * K, (i + 1) * K));
      for (const id of got.ids.subarray(i * K, (i + 1) * K)) if (w.has(id)) hit++;
    }
    const exactT = now();
    await exact.search(q, K);
    const exactS = now() - exactT;
    emit({ bench: 'search', side: 'bertorch', index: 'hnsw (hnswlib-node)', n: m, dim: D, queries: Q, k: K, m: 16, efConstruction: 200, efSearch: ef,
      build_s: round(buildS, 1), queries_s: round(Q / searchS, 1), exact_queries_s_same_rows: round(Q / exactS, 1), recall_at_10: round(hit / (Q * K), 4), ...envFields(threads) });
  }
}

async function main(): Promise<void> {
  if (flags.has('child')) return exactChild();
  const threads = intFlag(flags, 'threads', 2);
  const common = ['--n', String(N), '--dim', String(D), '--queries', String(Q), '--k', String(K), '--threads', String(threads)];
  if (!existsSync(file) || !existsSync(qfile)) {
    log(`writing ${N} x ${D} vectors to ${file}`);
    await runPeer('peer_search.py', [...common, '--data', file, '--qdata', qfile, '--write-only']);
  }
  const ours = await runTsChild('search.ts', ['--child', ...common, '--ann-n', String(annN), '--ef', String(ef)], (r) => emit(r));
  if (flags.has('no-peer')) return;
  const peer = await runPeer('peer_search.py', [...common, '--data', file, '--qdata', qfile], (r) => emit(r));
  const o = ours.find((r) => r.index === 'exact')!;
  const p = peer[0];
  const agree = (o.top1 as number[]).every((id, i) => id === (p.top1 as number[])[i]);
  emit({ bench: 'search', ratio: 'bertorch exact / faiss IndexFlatIP', n: N, dim: D, queries: Q, threads,
    queries_s: { bertorch: o.queries_s, faiss: p.queries_s }, speedup: round((o.queries_s as number) / (p.queries_s as number), 3),
    single_ms: { bertorch: o.single_ms, faiss: p.single_ms }, single_speedup: round((p.single_ms as number) / (o.single_ms as number), 3), goal: 0.9, top1_agree: agree });
}

main().catch((e) => { console.error(e); process.exit(1); });
