/**
 * Data-pipeline benchmark (no libtorch needed): JSON lines on stdout.
 *  - encode: tokens/s of the `tokenizers` package's own encodeBatch on one JS
 *    thread (TOKENIZERS_PARALLELISM=false, and its default rayon pool), of
 *    bertorch's Tokenizer.encodeBatch, and of writeShards' worker pool on all cores;
 *  - read: token shard reads, tokens/s, by readRange (large sequential reads),
 *    get(i) at random, and 512-token blocks at random;
 *  - --big: streams a synthetic corpus of --big-gb (default 2) GB to disk,
 *    runs prepareCorpus then writeShards on it, and reports each stage's time
 *    and peak RSS (target < 500 MB).
 * Each trial runs in a fresh process (its peak RSS is its own). Text is
 * synthetic pseudo-English (Zipf-distributed words built from syllables),
 * with a vocabulary of syllables and frequent words, so tokens per byte are
 * near BERT's on English. Progress goes to stderr.
 *
 *   npx tsx scripts/bench/data.ts                 # ~1-2 min
 *   npx tsx scripts/bench/data.ts --big           # 2 GB corpus
 *   npx tsx scripts/bench/data.ts --big --big-gb 0.5
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import tokenizers from 'tokenizers';
import { Tokenizer } from '../../lib/tokenizer.js';
import { prepareCorpus } from '../../lib/data/corpus.js';
import { ShardReader, writeShards } from '../../lib/data/shards.js';
import { Rng } from '../../lib/data/masking.js';

const SCRIPT = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(SCRIPT), '..', '..');

type Json = Record<string, unknown>;
const emit = (rec: Json) => process.stdout.write(JSON.stringify(rec) + '\n');
const log = (msg: string) => process.stderr.write(`[bench data] ${msg}\n`);
const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;
const peakRssMB = () => round(process.resourceUsage().maxRSS / 1024, 1);
const now = () => performance.now() / 1000;

function flags(argv: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const [key, value] = argv[i].replace(/^--/, '').split('=');
    if (value !== undefined) out.set(key, value);
    else if (argv[i + 1] !== undefined && !argv[i + 1].startsWith('--')) out.set(key, argv[++i]);
    else out.set(key, 'true');
  }
  return out;
}

// ---- synthetic text ----

const SYLLABLES = (() => {
  const c = ['b', 'c', 'd', 'f', 'g', 'h', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'w', 'st', 'th', 'ch', 'tr'];
  const v = ['a', 'e', 'i', 'o', 'u', 'ea', 'ou'];
  const out: string[] = [];
  for (const x of c) for (const y of v) out.push(x + y);
  return out; // 140
})();
const WORDS = (() => {
  const rng = new Rng(2024);
  const seen = new Set<string>();
  const words: string[] = [];
  while (words.length < 60000) {
    const n = 1 + Math.min(3, Math.floor(-Math.log(1 - rng.next()) * 1.1));
    const word = Array.from({ length: n }, () => SYLLABLES[rng.int(SYLLABLES.length)]).join('') + (rng.next() < 0.2 ? ['s', 'ed', 'ing', 'er'][rng.int(4)] : '');
    if (!seen.has(word)) {
      seen.add(word);
      words.push(word);
    }
  }
  return words;
})();

/** Deterministic lines of `sentences` sentences of Zipf-distributed words. */
function makeLine(rng: Rng, maxSentences: number): string {
  const sentences: string[] = [];
  const count = 1 + rng.int(maxSentences);
  for (let s = 0; s < count; s++) {
    const length = 6 + rng.int(22);
    const words: string[] = [];
    for (let w = 0; w < length; w++) {
      // Zipf(1) over the word list: rank = floor(N^u).
      let word = WORDS[Math.min(WORDS.length - 1, Math.floor(Math.pow(WORDS.length, rng.next())) - 1)];
      if (w === 0) word = word[0].toUpperCase() + word.slice(1);
      words.push(rng.next() < 0.06 ? `${word},` : word);
    }
    if (rng.next() < 0.1) words.push(String(rng.int(2000)));
    sentences.push(words.join(' ') + (rng.next() < 0.1 ? '?' : '.'));
  }
  return sentences.join(' ');
}

async function makeTokenizer(dir: string): Promise<Tokenizer> {
  const chars = 'abcdefghijklmnopqrstuvwxyz0123456789'.split('');
  const punct = ['.', ',', '?', '!', "'", '"', '-', '(', ')', ':', ';'];
  const vocab = [
    '[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...punct, ...chars, ...chars.map((c) => `##${c}`),
    ...SYLLABLES, ...SYLLABLES.map((s) => `##${s}`), '##s', '##ed', '##ing', '##er', ...WORDS.slice(0, 20000),
  ];
  const unique = [...new Set(vocab)];
  await writeFile(path.join(dir, 'vocab.txt'), unique.join('\n') + '\n');
  const tokenizer = await Tokenizer.fromVocab(path.join(dir, 'vocab.txt'));
  await tokenizer.save(path.join(dir, 'tokenizer'));
  return tokenizer;
}

// ---- trials (each in its own process) ----

interface TrialContext {
  dir: string;
  lines: number;
  workers: number;
  bigGb: number;
}

const TRIALS: Record<string, (ctx: TrialContext) => Promise<Json>> = {
  // The tokenizers package alone, one JS thread, batches of 1000.
  async 'encode-tokenizers'(ctx) {
    const texts = corpus(ctx.lines);
    const backend = tokenizers.Tokenizer.fromFile(path.join(ctx.dir, 'tokenizer', 'tokenizer.json'));
    await backend.encodeBatch(texts.slice(0, 1000), { addSpecialTokens: true }); // warm-up
    const start = now();
    let tokens = 0;
    for (let i = 0; i < texts.length; i += 1000) {
      for (const encoding of await backend.encodeBatch(texts.slice(i, i + 1000), { addSpecialTokens: true })) tokens += encoding.getIds().length;
    }
    const seconds = now() - start;
    return { tokens, seconds: round(seconds), tokensPerSec: Math.round(tokens / seconds), rayon: process.env.TOKENIZERS_PARALLELISM ?? 'default' };
  },
  // bertorch's Tokenizer.encodeBatch, one thread, reading inputIds as the package trial reads getIds()
  // (the other fields are computed when read: lib/tokenizer/encoding.ts).
  async 'encode-bertorch'(ctx) {
    const texts = corpus(ctx.lines);
    const tokenizer = await Tokenizer.fromPretrained(path.join(ctx.dir, 'tokenizer'));
    const start = now();
    let tokens = 0;
    for (let i = 0; i < texts.length; i += 1000) for (const e of await tokenizer.encodeBatch(texts.slice(i, i + 1000))) tokens += e.inputIds.length;
    const seconds = now() - start;
    return { tokens, seconds: round(seconds), tokensPerSec: Math.round(tokens / seconds) };
  },
  // writeShards end to end (worker start-up and disk writes included).
  async 'encode-worker-pool'(ctx) {
    const texts = corpus(ctx.lines);
    const summary = await writeShards({ texts, tokenizer: path.join(ctx.dir, 'tokenizer'), outDir: path.join(ctx.dir, 'shards'), workers: ctx.workers, progress: false });
    const tokens = summary.meta.numTokens;
    return { tokens, seconds: round(summary.seconds), tokensPerSec: Math.round(tokens / summary.seconds), workers: ctx.workers, shards: summary.meta.shards.length };
  },
  async 'read-range'(ctx) {
    const reader = await ShardReader.open(path.join(ctx.dir, 'shards'));
    const batch = 8192;
    let tokens = 0;
    const start = now();
    let passes = 0;
    while (now() - start < 2 || passes < 3) {
      for (let i = 0; i < reader.length; i += batch) tokens += reader.readRange(i, Math.min(reader.length, i + batch)).ids.length;
      passes++;
    }
    const seconds = now() - start;
    reader.close();
    return { examplesPerRead: batch, passes, tokens, seconds: round(seconds), tokensPerSec: Math.round(tokens / seconds) };
  },
  async 'read-get-random'(ctx) {
    const reader = await ShardReader.open(path.join(ctx.dir, 'shards'));
    const rng = new Rng(1);
    let tokens = 0;
    let reads = 0;
    const start = now();
    while (now() - start < 2) {
      for (let k = 0; k < 10000; k++) tokens += reader.get(rng.int(reader.length)).length;
      reads += 10000;
    }
    const seconds = now() - start;
    reader.close();
    return { reads, examplesPerSec: Math.round(reads / seconds), tokensPerSec: Math.round(tokens / seconds) };
  },
  async 'read-blocks-random'(ctx) {
    const reader = await ShardReader.open(path.join(ctx.dir, 'shards'));
    const blocks = reader.blocks(512);
    const rng = new Rng(2);
    let reads = 0;
    const start = now();
    while (now() - start < 2) {
      for (let k = 0; k < 10000; k++) blocks.get(rng.int(blocks.length));
      reads += 10000;
    }
    const seconds = now() - start;
    reader.close();
    return { blockSize: 512, reads, blocksPerSec: Math.round(reads / seconds), tokensPerSec: Math.round((reads * 512) / seconds) };
  },
  // Streams the raw corpus to disk (never held in memory).
  async 'big-generate'(ctx) {
    const file = path.join(ctx.dir, 'raw', 'corpus.txt');
    await mkdir(path.dirname(file), { recursive: true });
    const target = ctx.bigGb * 1e9;
    const out = createWriteStream(file, { highWaterMark: 1 << 20 });
    const rng = new Rng(77);
    let bytes = 0;
    let lines = 0;
    const start = now();
    while (bytes < target) {
      const chunk: string[] = [];
      for (let k = 0; k < 2000; k++) chunk.push(makeLine(rng, 8));
      const text = chunk.join('\n') + '\n';
      bytes += Buffer.byteLength(text);
      lines += chunk.length;
      if (!out.write(text)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
    return { bytes, lines, seconds: round(now() - start), peakRssMB: peakRssMB() };
  },
  async 'big-prepare'(ctx) {
    const start = now();
    const summary = await prepareCorpus({ inputs: [path.join(ctx.dir, 'raw', 'corpus.txt')], outDir: path.join(ctx.dir, 'corpus') });
    const seconds = now() - start;
    const bytes = (await stat(path.join(ctx.dir, 'raw', 'corpus.txt'))).size;
    return { inputBytes: bytes, written: summary.written, seconds: round(seconds), mbPerSec: round(bytes / 1e6 / seconds, 1), peakRssMB: peakRssMB() };
  },
  async 'big-shards'(ctx) {
    const summary = await writeShards({
      files: [path.join(ctx.dir, 'corpus', 'train.txt')],
      tokenizer: path.join(ctx.dir, 'tokenizer'),
      outDir: path.join(ctx.dir, 'big-shards'),
      workers: ctx.workers,
    });
    const tokens = summary.meta.numTokens;
    return { examples: summary.meta.numExamples, tokens, shards: summary.meta.shards.length, seconds: round(summary.seconds), tokensPerSec: Math.round(tokens / summary.seconds), workers: ctx.workers, peakRssMB: peakRssMB() };
  },
};

let cachedCorpus: string[] | undefined;
function corpus(lines: number): string[] {
  if (!cachedCorpus) {
    const rng = new Rng(11);
    cachedCorpus = Array.from({ length: lines }, () => makeLine(rng, 3));
  }
  return cachedCorpus;
}

function runChild(trial: string, ctx: TrialContext, env: NodeJS.ProcessEnv = {}): Promise<Json> {
  return new Promise((resolve, reject) => {
    const args = [...process.execArgv, SCRIPT, '--trial', trial, '--dir', ctx.dir, '--lines', String(ctx.lines), '--workers', String(ctx.workers), '--big-gb', String(ctx.bigGb)];
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`trial ${trial} exited with ${code}`));
      else resolve(JSON.parse(out.trim().split('\n').pop()!));
    });
  });
}

async function main(): Promise<void> {
  const f = flags(process.argv.slice(2));
  const ctx: TrialContext = {
    dir: f.get('dir') ?? '',
    lines: Number(f.get('lines') ?? 200000),
    workers: Number(f.get('workers') ?? os.availableParallelism()),
    bigGb: Number(f.get('big-gb') ?? 2),
  };
  const trial = f.get('trial');
  if (trial) {
    emit(await TRIALS[trial](ctx));
    return;
  }
  const keep = f.has('keep');
  ctx.dir = await mkdtemp(path.join(f.get('tmp') ?? os.tmpdir(), 'bertorch-bench-data-'));
  const common = { bench: 'data', cpus: os.availableParallelism(), cpu: os.cpus()[0]?.model.trim(), node: process.version };
  try {
    const tokenizer = await makeTokenizer(ctx.dir);
    log(`vocabulary ${tokenizer.vocabSize} tokens; workdir ${ctx.dir}`);
    const plan: Array<[string, string, NodeJS.ProcessEnv?]> = f.has('big')
      ? [['big-generate', 'big-generate'], ['big-prepare', 'big-prepare'], ['big-shards', 'big-shards']]
      : [
          ['encode-tokenizers-1thread', 'encode-tokenizers', { TOKENIZERS_PARALLELISM: 'false' }],
          ['encode-tokenizers-rayon', 'encode-tokenizers', { TOKENIZERS_PARALLELISM: 'true' }],
          ['encode-bertorch-tokenizer', 'encode-bertorch'],
          ['encode-worker-pool', 'encode-worker-pool'],
          ['read-range', 'read-range'],
          ['read-get-random', 'read-get-random'],
          ['read-blocks-random', 'read-blocks-random'],
        ];
    const tps = new Map<string, number>();
    for (const [name, trialName, env] of plan) {
      log(`${name}...`);
      const result = await runChild(trialName, ctx, env);
      if (typeof result.tokensPerSec === 'number') tps.set(name, result.tokensPerSec);
      emit({ ...common, trial: name, ...(f.has('big') ? { corpusGb: ctx.bigGb } : { lines: ctx.lines }), ...result });
    }
    // The peer is the tokenizers package HF's fast tokenizers run on, called directly.
    const pairs: [string, string, string][] = [
      ['Tokenizer.encodeBatch vs tokenizers encodeBatch, one thread, ids read', 'encode-bertorch-tokenizer', 'encode-tokenizers-1thread'],
      ['writeShards worker pool vs tokenizers encodeBatch on its rayon pool', 'encode-worker-pool', 'encode-tokenizers-rayon'],
    ];
    for (const [what, ours, peer] of pairs) {
      if (tps.has(ours) && tps.has(peer)) emit({ ...common, kind: 'ratio', what, ours: tps.get(ours), peer: tps.get(peer), ours_over_peer: round(tps.get(ours)! / tps.get(peer)!, 3) });
    }
  } finally {
    if (!keep) await rm(ctx.dir, { recursive: true, force: true });
  }
}

await main();
