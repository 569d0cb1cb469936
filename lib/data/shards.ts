// Token shards (DESIGN.md "Formats"): a corpus tokenized once into token ids
// on disk, read back by positioned reads. A shard folder holds meta.json
// (format version, vocabulary size and hash, id dtype, counts) and, per
// shard, NNNNN.bin (ids, little-endian uint16 or uint32, examples back to
// back) and NNNNN.idx (little-endian uint64 token offsets into the .bin,
// numExamples + 1 of them, the first 0).
// Writing: texts are sent in chunks to worker_threads that each load the
// tokenizer from a saved folder; results are written in input order, so the
// output does not depend on the number of workers. Everything goes to a
// staging folder first and meta.json is renamed into place last, so a folder
// with a meta.json is always complete. Reading: ShardReader keeps one file
// descriptor per file and reads only the bytes asked for (fs.readSync at an
// offset), on the calling thread. No native bertorch code here.

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { upperBound } from './search.js';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { availableParallelism, endianness } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { randomBytes } from 'node:crypto';
import { Tokenizer } from '../tokenizer.js';
import { CorpusError } from './corpus-error.js';
import { readLines } from './lines.js';
import { optionalBoolean, optionalChoice, optionalInteger, optionsObject, rangeError, requireString, typeError } from '../validate.js';

/** The shard format version this code writes and reads. */
export const SHARD_FORMAT_VERSION = 1;

/** Id storage type of a shard folder. */
export type IdDtype = 'uint16' | 'uint32';

/** One shard's files and counts, as listed in meta.json. */
export interface ShardInfo {
  bin: string;
  idx: string;
  numExamples: number;
  numTokens: number;
}

/** The contents of meta.json. */
export interface ShardsMeta {
  formatVersion: number;
  /** Size of the vocabulary the ids index. */
  vocabSize: number;
  /** {@link Tokenizer.vocabHash} of the tokenizer that wrote the ids. */
  vocabHash: string;
  idDtype: IdDtype;
  /** Whether each example is `[CLS] ... [SEP]`. */
  addSpecialTokens: boolean;
  numExamples: number;
  numTokens: number;
  shards: ShardInfo[];
}

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

/** Error codes of {@link ShardError}. */
export type ShardErrorCode = 'ERR_SHARD_FORMAT' | 'ERR_SHARD_VOCAB';

/** A shard folder that cannot be read: not a complete shard folder (`ERR_SHARD_FORMAT`) or ids of another vocabulary (`ERR_SHARD_VOCAB`). */
export class ShardError extends Error {
  override name = 'ShardError';
  constructor(
    readonly code: ShardErrorCode,
    message: string,
  ) {
    super(message);
  }
}

// A chunk sent to a worker ends at chunkSize texts or this many characters,
// whichever comes first: small chunks keep the Rust memory in flight small.
const CHUNK_CHARS = 1 << 17;
const DEFAULT_SHARD_TOKENS = 64 * 2 ** 20;
const shardName = (index: number, ext: string) => `${String(index).padStart(5, '0')}.${ext}`;

// ---- worker side ----

interface WorkerInit {
  tokenizersPath: string;
  tokenizerJson: string;
  addSpecialTokens: boolean;
  idDtype: IdDtype;
}
interface ChunkResult {
  seq: number;
  ids?: Uint16Array | Uint32Array;
  lengths?: Uint32Array;
  error?: string;
}

// The worker, as plain JavaScript run with `eval`: it loads only the
// `tokenizers` package (no bertorch modules, no TypeScript loader), which
// keeps each thread small. It reads tokenizer.json straight into the package
// and keeps only the ids: the same pipeline as Tokenizer.encode without
// truncation (test/shards.test.ts checks they agree), minus the offsets,
// masks and token strings a shard has no use for.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const tokenizers = require(workerData.tokenizersPath);
const backend = tokenizers.Tokenizer.fromFile(workerData.tokenizerJson);
parentPort.on('message', async ({ seq, texts }) => {
  try {
    const encodings = await backend.encodeBatch(texts, { addSpecialTokens: workerData.addSpecialTokens });
    const lists = encodings.map((encoding) => encoding.getIds());
    const lengths = Uint32Array.from(lists, (list) => list.length);
    let total = 0;
    for (const list of lists) total += list.length;
    const ids = workerData.idDtype === 'uint16' ? new Uint16Array(total) : new Uint32Array(total);
    let at = 0;
    for (const list of lists) {
      ids.set(list, at);
      at += list.length;
    }
    parentPort.postMessage({ seq, ids, lengths }, [ids.buffer, lengths.buffer]);
  } catch (error) {
    parentPort.postMessage({ seq, error: String((error && error.message) || error) });
  }
});
`;

/** Worker threads, each with a tokenizer; `run` goes to the least busy one. */
class TokenizerPool {
  readonly #workers: Array<{ worker: Worker; busy: number }> = [];
  readonly #waiting = new Map<number, { resolve: (r: ChunkResult) => void; reject: (e: Error) => void }>();
  #seq = 0;
  #failure: Error | undefined;

  constructor(size: number, init: WorkerInit) {
    for (let i = 0; i < size; i++) {
      const worker = spawnWorker(init);
      const slot = { worker, busy: 0 };
      worker.on('message', (result: ChunkResult) => {
        slot.busy--;
        const waiter = this.#waiting.get(result.seq)!;
        this.#waiting.delete(result.seq);
        if (result.error !== undefined) waiter.reject(new Error(`tokenizing worker failed: ${result.error}`));
        else waiter.resolve(result);
      });
      worker.on('error', (error) => this.#fail(error));
      worker.on('exit', (code) => {
        if (code !== 0) this.#fail(new Error(`tokenizing worker exited with code ${code}`));
      });
      this.#workers.push(slot);
    }
  }

  run(texts: string[]): Promise<ChunkResult> {
    if (this.#failure) return Promise.reject(this.#failure);
    const slot = this.#workers.reduce((a, b) => (b.busy < a.busy ? b : a));
    const seq = this.#seq++;
    slot.busy++;
    return new Promise((resolve, reject) => {
      this.#waiting.set(seq, { resolve, reject });
      slot.worker.postMessage({ seq, texts });
    });
  }

  async close(): Promise<void> {
    this.#failure ??= new Error('tokenizer pool closed');
    await Promise.all(this.#workers.map(({ worker }) => worker.terminate()));
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const waiter of this.#waiting.values()) waiter.reject(error);
    this.#waiting.clear();
  }
}

// Each encoding holds ~100 bytes a token in Rust memory that is freed only
// when V8 collects its small JS wrapper; a small young generation makes
// those collections frequent, which keeps a worker's memory flat.
function spawnWorker(init: WorkerInit): Worker {
  return new Worker(WORKER_SOURCE, { eval: true, workerData: init, execArgv: [], resourceLimits: { maxYoungGenerationSizeMb: 2 } });
}

// ---- writing ----

/** Appends examples to NNNNN.bin/.idx files in a staging folder, starting a new shard past `shardTokens`. */
class ShardWriter {
  readonly shards: ShardInfo[] = [];
  #bin: FileHandle | undefined;
  #idx: FileHandle | undefined;
  #examples = 0;
  #tokens = 0;

  constructor(
    readonly dir: string,
    readonly shardTokens: number,
  ) {}

  /** Appends a chunk: `ids` of all its examples back to back, `lengths` of each. */
  async append(ids: Uint16Array | Uint32Array, lengths: Uint32Array): Promise<void> {
    let from = 0; // first example of lengths not yet written
    let fromToken = 0;
    let at = 0;
    for (let k = 0; k <= lengths.length; k++) {
      const roll = k < lengths.length && this.#tokens + (at - fromToken) >= this.shardTokens && this.#examples + (k - from) > 0;
      if (k === lengths.length || roll) {
        await this.#write(ids.subarray(fromToken, at), lengths.subarray(from, k));
        from = k;
        fromToken = at;
        if (roll) await this.#finishShard();
      }
      if (k < lengths.length) at += lengths[k];
    }
  }

  async close(): Promise<ShardInfo[]> {
    if (this.#bin) await this.#finishShard();
    return this.shards;
  }

  async abort(): Promise<void> {
    await this.#bin?.close().catch(() => {});
    await this.#idx?.close().catch(() => {});
  }

  async #write(ids: Uint16Array | Uint32Array, lengths: Uint32Array): Promise<void> {
    if (lengths.length === 0) return;
    if (!this.#bin) {
      const index = this.shards.length;
      this.#bin = await open(join(this.dir, shardName(index, 'bin')), 'w');
      this.#idx = await open(join(this.dir, shardName(index, 'idx')), 'w');
      await this.#idx.write(new Uint8Array(8)); // offset 0
    }
    const offsets = new BigUint64Array(lengths.length);
    let tokens = this.#tokens;
    for (let k = 0; k < lengths.length; k++) offsets[k] = BigInt((tokens += lengths[k]));
    await this.#bin.write(new Uint8Array(ids.buffer, ids.byteOffset, ids.byteLength));
    await this.#idx!.write(new Uint8Array(offsets.buffer));
    this.#tokens = tokens;
    this.#examples += lengths.length;
  }

  async #finishShard(): Promise<void> {
    const index = this.shards.length;
    await this.#bin!.close();
    await this.#idx!.close();
    this.#bin = this.#idx = undefined;
    this.shards.push({ bin: shardName(index, 'bin'), idx: shardName(index, 'idx'), numExamples: this.#examples, numTokens: this.#tokens });
    this.#examples = 0;
    this.#tokens = 0;
  }
}

/** Progress on stderr: a redrawn bar on a terminal, a plain line every 30 s elsewhere. */
class Progress {
  readonly #tty = Boolean(process.stderr.isTTY);
  readonly #start = performance.now();
  #last = 0;

  constructor(
    readonly enabled: boolean,
    readonly totalBytes: number | undefined,
  ) {}

  update(bytes: number, examples: number, tokens: number, final = false): void {
    if (!this.enabled) return;
    const now = performance.now();
    if (!final && now - this.#last < (this.#tty ? 200 : 30000)) return;
    this.#last = now;
    const seconds = (now - this.#start) / 1000;
    const rate = tokens / Math.max(seconds, 1e-3);
    const n = (x: number) => (x >= 1e9 ? `${(x / 1e9).toFixed(2)}G` : x >= 1e6 ? `${(x / 1e6).toFixed(1)}M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)}k` : `${x}`);
    const stats = `${n(examples)} examples, ${n(tokens)} tokens, ${n(rate)} tokens/s, ${seconds.toFixed(0)}s`;
    if (this.#tty) {
      let bar = '';
      if (this.totalBytes) {
        const done = Math.min(1, bytes / this.totalBytes);
        bar = `[${'#'.repeat(Math.round(done * 30)).padEnd(30, '.')}] ${(done * 100).toFixed(0).padStart(3)}% `;
      }
      process.stderr.write(`\rshards ${bar}${stats}\x1b[K${final ? '\n' : ''}`);
    } else {
      process.stderr.write(`shards: ${stats}${final ? ' (done)' : ''}\n`);
    }
  }
}

type SourceItem = { text: string } | { blank: true } | { bad: CorpusError };

// Yields each text (or blank line or bad line) of the input, with a running byte count for progress.
async function* sourceOf(plan: WritePlan, progress: { bytes: number }): AsyncGenerator<SourceItem> {
  if (plan.files) {
    for (const file of plan.files) {
      for await (const raw of readLines(file, plan.maxLineBytes)) {
        progress.bytes += raw.bytes + 1;
        if (raw.error) {
          const detail = raw.error === 'invalid_utf8' ? 'invalid UTF-8' : `line of ${raw.bytes} bytes, over maxLineBytes (${plan.maxLineBytes})`;
          yield { bad: new CorpusError('ERR_CORPUS_BAD_ROW', file, raw.line, raw.error, detail) };
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
      tokenizerJson: join(staging, 'tokenizer', 'tokenizer.json'),
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

// ---- reading ----

/** Options of {@link ShardReader.open}. */
export interface ShardReaderOptions {
  /** Refuse shards written with another vocabulary than this tokenizer's. */
  tokenizer?: Pick<Tokenizer, 'vocabHash'>;
  /** Refuse shards whose vocabulary hash is not this one. */
  vocabHash?: string;
}

/** Examples `[start, end)` read at once: their ids back to back and where each starts. */
export interface ShardRange {
  ids: Uint16Array | Uint32Array;
  /** `end - start + 1` offsets into `ids`; example k is `ids[offsets[k], offsets[k + 1])`. */
  offsets: Float64Array;
}

type IdArray = Uint16Array | Uint32Array;

/**
 * Random access to a token shard folder. `get(i)` reads example i with two
 * positioned reads (its idx entries, then its ids); `readRange` reads many
 * examples with one read per shard; `blocks(n)` views the corpus as fixed
 * length blocks. File descriptors stay open until {@link ShardReader.close}.
 * @example
 * const reader = await ShardReader.open('shards/train', { tokenizer });
 * const ids = reader.get(0); // Int32Array
 * const blocks = reader.blocks(128);
 */
export class ShardReader {
  readonly meta: ShardsMeta;
  readonly dir: string;
  readonly #bytes: 2 | 4;
  readonly #exampleStart: Float64Array; // per shard, plus the total
  readonly #tokenStart: Float64Array;
  readonly #fds: Array<{ bin: number; idx: number } | undefined>;
  #closed = false;

  private constructor(dir: string, meta: ShardsMeta) {
    this.dir = dir;
    this.meta = meta;
    this.#bytes = meta.idDtype === 'uint16' ? 2 : 4;
    this.#exampleStart = new Float64Array(meta.shards.length + 1);
    this.#tokenStart = new Float64Array(meta.shards.length + 1);
    meta.shards.forEach((s, k) => {
      this.#exampleStart[k + 1] = this.#exampleStart[k] + s.numExamples;
      this.#tokenStart[k + 1] = this.#tokenStart[k] + s.numTokens;
    });
    this.#fds = new Array(meta.shards.length).fill(undefined);
  }

  /**
   * Opens a shard folder written by {@link writeShards}.
   * @throws {ShardError} `ERR_SHARD_FORMAT` if meta.json is missing or invalid or a shard's size disagrees with it;
   *   `ERR_SHARD_VOCAB` if the shards were written with another vocabulary.
   */
  static async open(dir: string, options?: ShardReaderOptions): Promise<ShardReader> {
    requireString(dir, 'dir');
    const opts = optionsObject(options, 'options');
    let text: string;
    try {
      text = await readFile(join(dir, 'meta.json'), 'utf8');
    } catch {
      throw new ShardError('ERR_SHARD_FORMAT', `${dir} has no readable meta.json: not a shard folder, or writeShards did not finish`);
    }
    const meta = checkMeta(text, dir);
    const expected = opts.tokenizer?.vocabHash() ?? opts.vocabHash;
    if (expected !== undefined && expected !== meta.vocabHash) {
      throw new ShardError(
        'ERR_SHARD_VOCAB',
        `The shards in ${dir} were written with vocabulary ${meta.vocabHash} but the tokenizer's vocabulary is ${expected}: ` +
          'the ids would mean other tokens; write the shards again with this tokenizer',
      );
    }
    if (endianness() !== 'LE') throw new ShardError('ERR_SHARD_FORMAT', 'Token shards are little-endian and this machine is big-endian');
    const reader = new ShardReader(dir, meta);
    try {
      for (let k = 0; k < meta.shards.length; k++) reader.#open(k); // checks every file's size now
    } catch (error) {
      reader.close();
      if (error instanceof ShardError) throw error;
      throw new ShardError('ERR_SHARD_FORMAT', `${dir}: a shard listed in meta.json cannot be opened: ${(error as Error).message}`);
    }
    return reader;
  }

  /** Number of examples. */
  get length(): number {
    return this.meta.numExamples;
  }

  /** Number of tokens in all examples. */
  get numTokens(): number {
    return this.meta.numTokens;
  }

  /** The ids of example `i`. */
  get(i: number): Int32Array {
    const { shard, local } = this.#locate(i);
    const [start, end] = this.#offsets(shard, local, 1);
    return Int32Array.from(this.#readIds(shard, start, end));
  }

  /** Number of tokens of example `i` (one small read). */
  lengthOf(i: number): number {
    const { shard, local } = this.#locate(i);
    const [start, end] = this.#offsets(shard, local, 1);
    return end - start;
  }

  /**
   * Examples `[start, end)` with one idx read and one id read per shard they
   * span: the fast path for sequential scans.
   */
  readRange(start: number, end: number): ShardRange {
    this.#checkRange(start, end, this.length, 'readRange');
    const offsets = new Float64Array(end - start + 1);
    const parts: IdArray[] = [];
    let total = 0;
    for (let i = start; i < end; ) {
      const { shard, local } = this.#locate(i);
      const count = Math.min(end - i, this.meta.shards[shard].numExamples - local);
      const shardOffsets = this.#offsets(shard, local, count);
      const base = shardOffsets[0];
      for (let k = 1; k <= count; k++) offsets[i - start + k] = total + shardOffsets[k] - base;
      const ids = this.#readIds(shard, base, shardOffsets[count]);
      parts.push(ids);
      total += ids.length;
      i += count;
    }
    return { ids: parts.length === 1 ? parts[0] : concatIds(parts, total, this.#bytes), offsets };
  }

  /**
   * Tokens `[start, end)` of the whole corpus, examples back to back (the
   * stream that {@link ShardReader.blocks} cuts up).
   */
  readTokens(start: number, end: number): IdArray {
    this.#checkRange(start, end, this.numTokens, 'readTokens');
    const parts: IdArray[] = [];
    for (let t = start; t < end; ) {
      const shard = upperBound(this.#tokenStart, t) - 1;
      const local = t - this.#tokenStart[shard];
      const count = Math.min(end - t, this.meta.shards[shard].numTokens - local);
      parts.push(this.#readIds(shard, local, local + count));
      t += count;
    }
    return parts.length === 1 ? parts[0] : concatIds(parts, end - start, this.#bytes);
  }

  /**
   * The corpus as blocks of `blockSize` tokens: all examples concatenated and
   * cut, the remainder dropped (HF run_mlm's group_texts, over the whole
   * corpus instead of per map batch). Block j is a single positioned read.
   * @throws {RangeError} for a blockSize that is not a positive integer.
   */
  blocks(blockSize: number): ShardBlocks {
    return new ShardBlocks(this, optionalInteger(blockSize, 'blockSize', 0, 1));
  }

  /** Closes the files. Idempotent; later reads throw. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const fds of this.#fds) {
      if (!fds) continue;
      closeSync(fds.bin);
      closeSync(fds.idx);
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #checkRange(start: number, end: number, limit: number, name: string): void {
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start || end > limit) {
      throw rangeError(`0 <= start <= end <= ${limit}`, name, [start, end]);
    }
  }

  #locate(i: number): { shard: number; local: number } {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) throw rangeError(`an index from 0 to ${this.length - 1}`, 'i', i);
    const shard = upperBound(this.#exampleStart, i) - 1;
    return { shard, local: i - this.#exampleStart[shard] };
  }

  #open(shard: number): { bin: number; idx: number } {
    if (this.#closed) throw new ShardError('ERR_SHARD_FORMAT', `ShardReader for ${this.dir} is closed`);
    let fds = this.#fds[shard];
    if (fds) return fds;
    const info = this.meta.shards[shard];
    const bin = openSync(join(this.dir, info.bin), 'r');
    const idx = openSync(join(this.dir, info.idx), 'r');
    fds = { bin, idx };
    this.#fds[shard] = fds;
    const binSize = fstatSync(bin).size;
    const idxSize = fstatSync(idx).size;
    if (binSize !== info.numTokens * this.#bytes || idxSize !== (info.numExamples + 1) * 8) {
      throw new ShardError(
        'ERR_SHARD_FORMAT',
        `${join(this.dir, info.bin)} has ${binSize} bytes and its .idx ${idxSize}; meta.json says ${info.numTokens} tokens ` +
          `of ${this.#bytes} bytes and ${info.numExamples} examples`,
      );
    }
    return fds;
  }

  // Token offsets of examples local..local+count of a shard (count + 1 values).
  #offsets(shard: number, local: number, count: number): Float64Array {
    const raw = new BigUint64Array(count + 1);
    readFully(this.#open(shard).idx, raw, local * 8);
    return Float64Array.from(raw, Number);
  }

  #readIds(shard: number, start: number, end: number): IdArray {
    const ids = this.#bytes === 2 ? new Uint16Array(end - start) : new Uint32Array(end - start);
    readFully(this.#open(shard).bin, ids, start * this.#bytes);
    return ids;
  }
}

/**
 * Fixed-length blocks of a shard folder's token stream ({@link ShardReader.blocks}).
 * A dataset: `length` blocks, `get(j)` the ids of block j.
 */
export class ShardBlocks {
  constructor(
    readonly reader: ShardReader,
    readonly blockSize: number,
  ) {}

  /** Number of whole blocks. */
  get length(): number {
    return Math.floor(this.reader.numTokens / this.blockSize);
  }

  /** The ids of block `j`. */
  get(j: number): Int32Array {
    if (!Number.isInteger(j) || j < 0 || j >= this.length) throw rangeError(`a block index from 0 to ${this.length - 1}`, 'j', j);
    return Int32Array.from(this.reader.readTokens(j * this.blockSize, (j + 1) * this.blockSize));
  }
}

function checkMeta(text: string, dir: string): ShardsMeta {
  const bad = (what: string) => new ShardError('ERR_SHARD_FORMAT', `${join(dir, 'meta.json')} ${what}`);
  let meta: ShardsMeta;
  try {
    meta = JSON.parse(text);
  } catch (error) {
    throw bad(`is not JSON: ${(error as Error).message}`);
  }
  if (meta?.formatVersion !== SHARD_FORMAT_VERSION) throw bad(`has format version ${meta?.formatVersion}; this bertorch reads ${SHARD_FORMAT_VERSION}`);
  if (meta.idDtype !== 'uint16' && meta.idDtype !== 'uint32') throw bad(`has an unknown idDtype ${JSON.stringify(meta.idDtype)}`);
  if (typeof meta.vocabHash !== 'string' || !Number.isInteger(meta.vocabSize)) throw bad('lacks vocabHash or vocabSize');
  if (!Array.isArray(meta.shards)) throw bad('lacks the shard list');
  let examples = 0;
  let tokens = 0;
  for (const s of meta.shards) {
    const name = /^\d{5}\.bin$/;
    if (!name.test(s?.bin) || s.idx !== s.bin.replace(/bin$/, 'idx') || !Number.isInteger(s.numExamples) || !Number.isInteger(s.numTokens)) {
      throw bad(`has an invalid shard entry ${JSON.stringify(s)}`);
    }
    examples += s.numExamples;
    tokens += s.numTokens;
  }
  if (examples !== meta.numExamples || tokens !== meta.numTokens) throw bad('has totals that disagree with its shards');
  return meta;
}

function readFully(fd: number, into: ArrayBufferView, position: number): void {
  const bytes = new Uint8Array(into.buffer, into.byteOffset, into.byteLength);
  let done = 0;
  while (done < bytes.length) {
    const n = readSync(fd, bytes, done, bytes.length - done, position + done);
    if (n === 0) throw new ShardError('ERR_SHARD_FORMAT', `unexpected end of a shard file at byte ${position + done}`);
    done += n;
  }
}

function concatIds(parts: IdArray[], total: number, bytes: 2 | 4): IdArray {
  const out = bytes === 2 ? new Uint16Array(total) : new Uint32Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

