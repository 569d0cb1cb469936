// Writing token shards: texts are sent in chunks to worker_threads that each
// load the tokenizer from a saved folder; results are written in input order,
// so the output does not depend on the number of workers. Everything goes to
// a staging folder first and meta.json is renamed into place last, so a
// folder with a meta.json is always complete. No native bertorch code here.

import { mkdir, readdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { availableParallelism, endianness } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { Tokenizer } from '../../tokenizer.js';
import { CorpusError } from '../corpus-error.js';
import { lineProblem } from '../csv.js';
import { readLines } from '../lines.js';
import { optionalBoolean, optionalChoice, optionalInteger, optionsObject, rangeError, requireString, typeError } from '../../validate.js';
import { SHARD_FORMAT_VERSION, type IdDtype, type ShardInfo, type ShardsMeta } from './format.js';
import { Progress } from './progress.js';
import { ShardWriter } from './shard-writer.js';
import { TokenizerPool, type ChunkResult } from './tokenizer-pool.js';

/** Options of {@link writeShards}. Give `texts` or `files`. */
export interface WriteShardsOptions {
  /** Texts to tokenize, one example each. */
  texts?: AsyncIterable<string> | Iterable<string>;
  /** Text files (`.gz` too) with one example a line, such as prepareCorpus's train.txt. */
  files?: string[];
  /** A tokenizer folder, a `vocab.txt` or `tokenizer.json` path, or a loaded {@link Tokenizer}. */
  tokenizer: string | Tokenizer;
  /** Folder for meta.json and the shards (created if needed; an old shard set there is replaced). */
  outDir: string;
  /**
   * `'auto'` stores ids as uint16 when the vocabulary has fewer than 65536 tokens, else uint32.
   * @default 'auto'
   */
  idDtype?: 'auto' | IdDtype;
  /**
   * Tokens per shard; a shard ends at the first example boundary past it.
   * @default 67108864 (64 Mi)
   */
  shardTokens?: number;
  /**
   * Tokenizing worker threads.
   * @default os.availableParallelism()
   */
  workers?: number;
  /**
   * Most texts per message to a worker (a message also ends at 128 Ki characters).
   * @default 1024
   */
  chunkSize?: number;
  /**
   * Add `[CLS]`/`[SEP]` around each example, as HF's run_mlm does before grouping texts.
   * @default true
   */
  addSpecialTokens?: boolean;
  /**
   * Show progress on stderr: a bar on a terminal, a plain line every 30 s otherwise.
   * @default true
   */
  progress?: boolean;
  /**
   * files: a line that is not UTF-8 or is over maxLineBytes throws a CorpusError naming file and line (`'error'`), or is counted and skipped (`'skip'`).
   * @default 'error'
   */
  onBadRow?: 'error' | 'skip';
  /** files: longest line read, in bytes. @default 8388608 */
  maxLineBytes?: number;
}

/** What {@link writeShards} wrote and left out. */
export interface WriteShardsSummary {
  meta: ShardsMeta;
  /** Blank texts (whitespace only), not written. */
  blank: number;
  /** Lines skipped with `onBadRow: 'skip'`. */
  badRows: number;
  seconds: number;
}

// A chunk sent to a worker ends at chunkSize texts or this many characters,
// whichever comes first: small chunks keep the Rust memory in flight small.
const CHUNK_CHARS = 1 << 17;
const DEFAULT_SHARD_TOKENS = 64 * 2 ** 20;

type SourceItem = { text: string } | { blank: true } | { bad: CorpusError };

// Yields each text (or blank line or bad line) of the input, with a running byte count for progress.
async function* sourceOf(plan: WritePlan, progress: { bytes: number }): AsyncGenerator<SourceItem> {
  if (plan.files) {
    for (const file of plan.files) {
      for await (const raw of readLines(file, plan.maxLineBytes)) {
        progress.bytes += raw.bytes + 1;
        if (raw.error) {
          const { bad, message } = lineProblem(raw, plan.maxLineBytes);
          yield { bad: new CorpusError('ERR_CORPUS_BAD_ROW', file, raw.line, bad, message) };
        } else {
          yield raw.text.trim().length === 0 ? { blank: true } : { text: raw.text };
        }
      }
    }
    return;
  }
  let i = 0;
  for await (const text of plan.texts!) {
    if (typeof text !== 'string') throw typeError('a string', `texts[${i}]`, text);
    i++;
    progress.bytes += text.length;
    yield text.trim().length === 0 ? { blank: true } : { text };
  }
}

interface WritePlan {
  texts?: AsyncIterable<string> | Iterable<string>;
  files?: string[];
  tokenizer: Tokenizer;
  outDir: string;
  idDtype: IdDtype;
  shardTokens: number;
  workers: number;
  chunkSize: number;
  addSpecialTokens: boolean;
  progress: boolean;
  onBadRow: 'error' | 'skip';
  maxLineBytes: number;
}

/**
 * Tokenizes a corpus into a token shard folder with a pool of worker threads.
 * Blank texts are left out. The result is the same for any number of workers.
 * Threads: each worker's batches run on libuv's pool (UV_THREADPOOL_SIZE, 4
 * by default, set before Node starts) and the tokenizers package spreads each
 * batch over its own thread pool (off with TOKENIZERS_PARALLELISM=false).
 * Memory: one chunk per worker in flight, about 15 MB a worker.
 * @throws {TypeError} for bad options, a missing file or an unloadable tokenizer.
 * @throws {RangeError} for `idDtype: 'uint16'` with a vocabulary of 65536 tokens or more.
 * @throws {CorpusError} `ERR_CORPUS_BAD_ROW` for an unreadable line of a file (unless `onBadRow: 'skip'`).
 * @example
 * await writeShards({ files: ['corpus/train.txt'], tokenizer: 'tokenizer', outDir: 'shards/train' });
 * const reader = await ShardReader.open('shards/train');
 */
export async function writeShards(options: WriteShardsOptions): Promise<WriteShardsSummary> {
  const started = performance.now();
  const plan = await planShards(options);
  await mkdir(plan.outDir, { recursive: true });
  const staging = join(plan.outDir, `.staging-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(join(staging, 'tokenizer'), { recursive: true });
  let pool: TokenizerPool | undefined;
  const writer = new ShardWriter(staging, plan.shardTokens);
  try {
    await plan.tokenizer.save(join(staging, 'tokenizer'));
    pool = new TokenizerPool(plan.workers, {
      tokenizersPath: createRequire(import.meta.url).resolve('tokenizers'),
      tokenizerJson: plan.tokenizer.backendJson(),
      addSpecialTokens: plan.addSpecialTokens,
      idDtype: plan.idDtype,
    });
    const counts = await tokenizeAll(plan, pool, writer);
    const shards = await writer.close();
    const meta: ShardsMeta = {
      formatVersion: SHARD_FORMAT_VERSION,
      vocabSize: plan.tokenizer.vocabSize,
      vocabHash: plan.tokenizer.vocabHash(),
      idDtype: plan.idDtype,
      addSpecialTokens: plan.addSpecialTokens,
      numExamples: shards.reduce((sum, s) => sum + s.numExamples, 0),
      numTokens: shards.reduce((sum, s) => sum + s.numTokens, 0),
      shards,
    };
    await writeFile(join(staging, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
    await commit(staging, plan.outDir, shards);
    return { meta, ...counts, seconds: (performance.now() - started) / 1000 };
  } catch (error) {
    await writer.abort();
    throw error;
  } finally {
    await pool?.close();
    await rm(staging, { recursive: true, force: true });
  }
}

// Reads the source, sends chunks to the pool and appends the results in input order.
async function tokenizeAll(plan: WritePlan, pool: TokenizerPool, writer: ShardWriter): Promise<{ blank: number; badRows: number }> {
  const progress = new Progress(plan.progress, plan.files ? await totalBytes(plan.files) : undefined);
  const read = { bytes: 0 };
  const inFlight: Array<Promise<ChunkResult>> = [];
  const limit = plan.workers * 2;
  let blank = 0;
  let badRows = 0;
  let examples = 0;
  let tokens = 0;
  const drainOne = async () => {
    const { ids, lengths } = await inFlight.shift()!;
    await writer.append(ids!, lengths!);
    examples += lengths!.length;
    tokens += ids!.length;
    progress.update(read.bytes, examples, tokens);
  };
  const submit = async (texts: string[]) => {
    const promise = pool.run(texts);
    promise.catch(() => {}); // awaited in order by drainOne; this only silences an early rejection
    inFlight.push(promise);
    while (inFlight.length >= limit) await drainOne();
  };
  let chunk: string[] = [];
  let chars = 0;
  for await (const item of sourceOf(plan, read)) {
    if ('blank' in item) blank++;
    else if ('bad' in item) {
      if (plan.onBadRow === 'error') throw item.bad;
      badRows++;
    } else {
      chunk.push(item.text);
      chars += item.text.length;
      if (chunk.length >= plan.chunkSize || chars >= CHUNK_CHARS) {
        await submit(chunk);
        chunk = [];
        chars = 0;
      }
    }
  }
  if (chunk.length > 0) await submit(chunk);
  while (inFlight.length > 0) await drainOne();
  progress.update(read.bytes, examples, tokens, true);
  return { blank, badRows };
}

async function totalBytes(files: string[]): Promise<number | undefined> {
  if (files.some((file) => file.endsWith('.gz'))) return undefined;
  let total = 0;
  for (const file of files) total += (await stat(file)).size;
  return total;
}

// Replaces any old shard set: meta.json goes first (so a crash in between
// leaves a folder that reads as incomplete, never a mixed one), then the
// shards are renamed into place, then the new meta.json, then stale shards go.
async function commit(staging: string, outDir: string, shards: ShardInfo[]): Promise<void> {
  await unlink(join(outDir, 'meta.json')).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
  const keep = new Set<string>();
  for (const shard of shards) {
    for (const name of [shard.bin, shard.idx]) {
      await rename(join(staging, name), join(outDir, name));
      keep.add(name);
    }
  }
  await rename(join(staging, 'meta.json'), join(outDir, 'meta.json'));
  for (const name of await readdir(outDir)) {
    if (/^\d{5}\.(bin|idx)$/.test(name) && !keep.has(name)) await unlink(join(outDir, name));
  }
}

async function loadTokenizer(spec: string | Tokenizer): Promise<Tokenizer> {
  if (spec instanceof Tokenizer) return spec;
  const path = requireString(spec, 'tokenizer');
  const info = await stat(path).catch(() => undefined);
  if (!info) throw typeError('an existing tokenizer folder, vocab.txt or tokenizer.json', 'tokenizer', path);
  if (info.isDirectory()) return Tokenizer.fromPretrained(path);
  return path.endsWith('.json') ? Tokenizer.fromFile(path) : Tokenizer.fromVocab(path);
}

async function planShards(options: WriteShardsOptions): Promise<WritePlan> {
  const opts = optionsObject(options, 'options');
  if ((opts.texts === undefined) === (opts.files === undefined)) throw typeError('either texts or files', 'options', options);
  if (opts.texts !== undefined && !(Symbol.asyncIterator in Object(opts.texts)) && !(Symbol.iterator in Object(opts.texts))) {
    throw typeError('an iterable of strings', 'texts', opts.texts);
  }
  if (opts.files !== undefined) {
    if (!Array.isArray(opts.files) || opts.files.length === 0) throw typeError('a non-empty array of paths', 'files', opts.files);
    for (const [i, file] of opts.files.entries()) {
      requireString(file, `files[${i}]`);
      if (!(await stat(file).then((s) => s.isFile(), () => false))) throw typeError('an existing file', `files[${i}]`, file);
    }
  }
  if (endianness() !== 'LE') throw new RangeError('Expected a little-endian machine for token shards but received a big-endian one');
  const outDir = requireString(opts.outDir, 'outDir');
  const tokenizer = await loadTokenizer(opts.tokenizer as string | Tokenizer);
  const wanted = optionalChoice(opts.idDtype, 'idDtype', ['auto', 'uint16', 'uint32'] as const, 'auto');
  const idDtype = wanted === 'auto' ? (tokenizer.vocabSize < 65536 ? 'uint16' : 'uint32') : wanted;
  if (idDtype === 'uint16' && tokenizer.vocabSize > 65536) {
    throw rangeError(`'uint32' or 'auto' for a vocabulary of ${tokenizer.vocabSize} tokens`, 'idDtype', wanted);
  }
  return {
    texts: opts.texts,
    files: opts.files,
    tokenizer,
    outDir,
    idDtype,
    shardTokens: optionalInteger(opts.shardTokens, 'shardTokens', DEFAULT_SHARD_TOKENS, 1),
    workers: optionalInteger(opts.workers, 'workers', Math.max(1, availableParallelism()), 1, 1024),
    chunkSize: optionalInteger(opts.chunkSize, 'chunkSize', 1024, 1),
    addSpecialTokens: optionalBoolean(opts.addSpecialTokens, 'addSpecialTokens', true),
    progress: optionalBoolean(opts.progress, 'progress', true),
    onBadRow: optionalChoice(opts.onBadRow, 'onBadRow', ['error', 'skip'] as const, 'error'),
    maxLineBytes: optionalInteger(opts.maxLineBytes, 'maxLineBytes', 8 * 2 ** 20, 1, 2 ** 30),
  };
}
