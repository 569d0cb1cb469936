/**
 * Parquet text corpus into token shards: bertorch (readTable, hyparquet, a
 * row group at a time, into writeShards' tokenizer worker pool) against
 * pyarrow + HF `tokenizers` (iter_batches, encode_batch on its rayon pool),
 * side by side on the same file, tokenizer and thread count; rows/s, MB/s
 * (of text, and of the Parquet file) and peak RSS of each, then their ratio.
 * The corpus is --size MB of text (default 128); at any size bertorch's peak
 * RSS must stay under 500 MB (the streaming check: try --size 2000 for the
 * issue's 2 GB). Each side runs in a fresh process. JSON lines on stdout.
 *
 *   npx tsx scripts/bench/parquet.ts [--size 128] [--threads 2] [--keep]
 *   npx tsx scripts/bench/parquet.ts --size 2000 --no-peer   # the streaming check alone
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readTable } from '../../lib/data/parquet-table.js';
import { writeShards } from '../../lib/data/shards.js';
import { trainWordPiece } from '../../lib/tokenizer.js';
import { emit, intFlag, log, parseFlags, peakRssMB, pythonPath, round, runJsonLines, type Json } from './common.js';

const SCRIPT = fileURLToPath(import.meta.url);
const PEER = path.join(path.dirname(SCRIPT), 'peer_parquet.py');
const RSS_LIMIT_MB = 500;

// One trial in this process: the file, tokenized into shards with `threads` workers.
async function ours(file: string, tokenizerDir: string, outDir: string, threads: number): Promise<Json> {
  const start = performance.now();
  let rows = 0;
  const texts = (async function* () {
    for await (const r of readTable([file], { columns: ['text'] })) {
      rows++;
      yield r.values.text as string;
    }
  })();
  const summary = await writeShards({ texts, tokenizer: tokenizerDir, outDir, workers: threads, progress: false });
  const seconds = (performance.now() - start) / 1000;
  // Where the main thread's memory is at the end, to tell V8 heap growth from native (decoder, allocator) growth.
  const m = process.memoryUsage();
  const mb = (x: number) => round(x / 2 ** 20, 1);
  return {
    rows, tokens: summary.meta.numTokens, seconds: round(seconds), peakRssMB: round(peakRssMB(), 1), threads,
    endRssMB: mb(m.rss), endHeapTotalMB: mb(m.heapTotal), endExternalMB: mb(m.external), endArrayBuffersMB: mb(m.arrayBuffers),
  };
}

async function main(): Promise<void> {
  const f = parseFlags(process.argv.slice(2));
  const threads = intFlag(f, 'threads', os.availableParallelism());
  if (f.has('trial')) {
    emit(await ours(f.get('file')!, f.get('tokenizer')!, f.get('out')!, threads));
    return;
  }
  const size = Number(f.get('size') ?? 128);
  if (!(size > 0)) throw new RangeError(`bench: --size expects megabytes of text, got ${f.get('size')}`);
  const dir = await mkdtemp(path.join(f.get('tmp') ?? os.tmpdir(), 'bertorch-bench-parquet-'));
  const py = pythonPath();
  try {
    const file = path.join(dir, 'corpus.parquet');
    log(`writing ${size} MB of text as Parquet (pyarrow) in ${dir}`);
    const [made] = await runJsonLines(py, [PEER, 'make', '--out', file, '--size-mb', String(size)]);
    // The tokenizer both sides use: WordPiece trained on the first 50,000 rows, saved as tokenizer.json.
    const sample = (async function* () {
      let n = 0;
      for await (const r of readTable([file], { columns: ['text'] })) {
        if (n++ >= 50_000) return;
        yield r.values.text as string;
      }
    })();
    const tokenizerDir = path.join(dir, 'tokenizer');
    await (await trainWordPiece({ iterator: sample, vocabSize: 16000 })).save(tokenizerDir);
    const load = () => round(os.loadavg()[0], 2);
    const common = {
      bench: 'parquet', cpus: os.availableParallelism(), cpu: os.cpus()[0]?.model.trim(), node: process.version, threads,
      textMB: round((made.text_bytes as number) / 1e6, 1), fileMB: round((made.file_bytes as number) / 1e6, 1), rowsInFile: made.rows,
    };
    const results: Record<string, Json> = {};
    const sides = f.has('no-peer') ? (['bertorch'] as const) : (['bertorch', 'pyarrow+tokenizers'] as const);
    for (const side of sides) {
      log(`${side}...`);
      const before = load();
      const [r] = side === 'bertorch'
        ? await runJsonLines(process.execPath, [...process.execArgv, SCRIPT, '--trial', '--file', file, '--tokenizer', tokenizerDir, '--out', path.join(dir, 'shards'), '--threads', String(threads)])
        : await runJsonLines('env', [`RAYON_NUM_THREADS=${threads}`, 'TOKENIZERS_PARALLELISM=true', py, PEER, 'tokenize', '--input', file, '--tokenizer', path.join(tokenizerDir, 'tokenizer.json'), '--out', path.join(dir, 'peer.bin')]);
      const s = r.seconds as number;
      results[side] = {
        ...common, trial: side, ...r, rowsPerSec: Math.round((r.rows as number) / s), textMBPerSec: round(common.textMB / s, 2),
        fileMBPerSec: round(common.fileMB / s, 2), tokensPerSec: Math.round((r.tokens as number) / s), loadavg1mBefore: before, loadavg1mAfter: load(),
      };
      emit(results[side]);
    }
    const a = results.bertorch;
    const b = results['pyarrow+tokenizers'];
    if (b) emit({
      ...common, kind: 'ratio', what: 'Parquet text -> token shards, rows/s, bertorch over pyarrow + tokenizers',
      ours: a.rowsPerSec, peer: b.rowsPerSec, ours_over_peer: round((a.rowsPerSec as number) / (b.rowsPerSec as number), 3),
      sameTokens: a.tokens === b.tokens, tokens: a.tokens, peerTokens: b.tokens,
    });
    emit({ ...common, kind: 'streaming', what: `bertorch peak RSS tokenizing ${common.textMB} MB of Parquet text`, peakRssMB: a.peakRssMB, limitMB: RSS_LIMIT_MB, underLimit: (a.peakRssMB as number) < RSS_LIMIT_MB });
  } finally {
    if (!f.has('keep')) await rm(dir, { recursive: true, force: true });
  }
}

await main();
