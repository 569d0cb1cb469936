// safetensors files in pure TypeScript: read (defensively, by positioned reads),
// write (byte-identical to Python's `safetensors.torch.save_file`, atomically),
// and HF checkpoint folders (`model.safetensors` or a sharded set).
// Format: u64-LE header length N, N bytes of UTF-8 JSON (padded with spaces to
// 8 bytes), then the packed tensor bytes; https://huggingface.co/docs/safetensors
// Validation follows the reference reader (safetensors' `Metadata::validate`):
// sorted by offset, the tensors' byte ranges must tile the data region exactly.
// A TensorRecord owns its `data` bytes; nothing here holds native memory.

import { open, readFile, readdir } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { writeFileAtomic } from './atomic.js';

/** Element types bertorch reads and writes, spelled as in the safetensors header. */
export type SafeDType =
  | 'F64' | 'F32' | 'F16' | 'BF16'
  | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL'
  | 'U16' | 'U32' | 'U64';

/** One tensor: dtype, shape and its raw little-endian bytes (exactly numel * itemSize). */
export interface TensorRecord {
  dtype: SafeDType;
  shape: number[];
  data: Uint8Array;
}

/** A tensor's header entry. `dataOffsets` are relative to the end of the header. */
export interface TensorInfo {
  dtype: SafeDType;
  shape: number[];
  dataOffsets: [number, number];
}

/** The typed array {@link toTypedArray} returns; F16/BF16 come as raw bits in a Uint16Array. */
export type SafeTypedArray =
  | Float64Array | Float32Array | BigInt64Array | BigUint64Array
  | Int32Array | Uint32Array | Int16Array | Uint16Array | Int8Array | Uint8Array;

/** Options of {@link readSafetensors}. */
export interface ReadSafetensorsOptions {
  /**
   * Which tensors to read: a list (every name must exist) or a predicate.
   * Unwanted tensors are validated in the header but their bytes are never read.
   * @default all tensors
   */
  names?: readonly string[] | ((name: string) => boolean);
  /**
   * Largest JSON header accepted, in bytes (the reference reader uses 100,000,000).
   * @default 100 * 1024 * 1024
   */
  maxHeaderBytes?: number;
}

/**
 * Why a safetensors file or checkpoint folder was refused. `kind` mirrors the
 * reference reader's `SafeTensorError` variants (`HeaderTooSmall`, `HeaderTooLarge`,
 * `InvalidHeaderLength`, `InvalidHeader`, `InvalidHeaderDeserialization`,
 * `InvalidDtype`, `TensorInvalidInfo`, `InvalidOffset`, `MetadataIncompleteBuffer`)
 * plus bertorch's `MissingTensor`, `InvalidIndex`, `NoCheckpoint`, `PickleCheckpoint`.
 */
export class SafetensorsError extends Error {
  readonly code = 'ERR_SAFETENSORS';
  readonly kind: string;
  readonly file: string;
  readonly tensor?: string;
  constructor(kind: string, file: string, message: string, tensor?: string) {
    super(tensor === undefined ? `${file}: ${message}` : `${file}: tensor "${tensor}": ${message}`);
    this.name = 'SafetensorsError';
    this.kind = kind;
    this.file = file;
    if (tensor !== undefined) this.tensor = tensor;
  }
}

const ITEM_SIZE: Record<SafeDType, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1, U16: 2, U32: 4, U64: 8,
};

// The order of safetensors' Rust `Dtype` enum (which derives Ord), restricted to
// ours. The writer sorts tensors by this rank, descending, then by name, so the
// widest types come first and every tensor stays aligned to its item size.
const DTYPE_RANK: Record<SafeDType, number> = {
  BOOL: 0, U8: 1, I8: 2, I16: 3, U16: 4, F16: 5, BF16: 6, I32: 7, U32: 8, F32: 9, F64: 10, I64: 11, U64: 12,
};

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const HEADER_LEN_BYTES = 8;
const METADATA_KEY = '__metadata__';

/**
 * Bytes per element of `dtype`.
 * @throws {TypeError} for a dtype bertorch does not know.
 * @example itemSize('BF16') // 2
 */
export function itemSize(dtype: SafeDType): number {
  if (!isSafeDType(dtype)) throw new TypeError(`Expected a safetensors dtype for dtype but received ${String(dtype)}`);
  return ITEM_SIZE[dtype];
}

function isSafeDType(x: unknown): x is SafeDType {
  return typeof x === 'string' && Object.prototype.hasOwnProperty.call(ITEM_SIZE, x);
}

/** Product of `shape` (1 for a scalar), or undefined when it is not a safe integer. */
function numelOf(shape: readonly number[]): number | undefined {
  let n = 1;
  for (const d of shape) n *= d;
  return Number.isSafeInteger(n) ? n : undefined;
}

function isShape(x: unknown): x is number[] {
  return Array.isArray(x) && x.every((d) => Number.isSafeInteger(d) && d >= 0);
}

// ---- reading -------------------------------------------------------------

/**
 * Reads and validates the header of a safetensors file without reading any tensor bytes.
 * @throws {SafetensorsError} (`ERR_SAFETENSORS`) when the header is malformed; fs errors as is.
 * @example const { tensors } = await readSafetensorsHeader('model.safetensors');
 */
export async function readSafetensorsHeader(
  path: string,
  options: Pick<ReadSafetensorsOptions, 'maxHeaderBytes'> = {},
): Promise<{ tensors: Map<string, TensorInfo>; metadata: Record<string, string>; dataStart: number }> {
  const fh = await open(path, 'r');
  try {
    return await readHeader(fh, path, maxHeaderBytesOf(options));
  } finally {
    await fh.close();
  }
}

/**
 * Reads the tensors of a safetensors file. The header is validated in full first
 * (size bound, UTF-8, JSON, known dtypes, `numel * itemsize == byte range`, ranges
 * tiling the data region with no overlap or hole); then only the wanted tensors'
 * byte ranges are read, each into its own buffer.
 *
 * @throws {SafetensorsError} (`ERR_SAFETENSORS`) naming the file and tensor; fs errors as is.
 * @example
 * const { tensors, metadata } = await readSafetensors('ckpt/model.safetensors', {
 *   names: (n) => n.startsWith('bert.'),
 * });
 * const emb = toTypedArray(tensors.get('bert.embeddings.word_embeddings.weight')!);
 */
export async function readSafetensors(
  path: string,
  options: ReadSafetensorsOptions = {},
): Promise<{ tensors: Map<string, TensorRecord>; metadata: Record<string, string> }> {
  const maxHeaderBytes = maxHeaderBytesOf(options);
  const wanted = wantedOf(options.names);
  const fh = await open(path, 'r');
  try {
    const header = await readHeader(fh, path, maxHeaderBytes);
    if (Array.isArray(options.names)) {
      for (const name of options.names) {
        if (!header.tensors.has(name)) {
          throw new SafetensorsError('MissingTensor', path, 'not found in the file', name);
        }
      }
    }
    const tensors = new Map<string, TensorRecord>();
    for (const [name, info] of header.tensors) {
      if (!wanted(name)) continue;
      const [start, end] = info.dataOffsets;
      const data = await readExactly(fh, end - start, header.dataStart + start, path, name);
      tensors.set(name, { dtype: info.dtype, shape: info.shape, data });
    }
    return { tensors, metadata: header.metadata };
  } finally {
    await fh.close();
  }
}

function maxHeaderBytesOf(options: ReadSafetensorsOptions): number {
  const { maxHeaderBytes = 100 * 1024 * 1024 } = options;
  if (!Number.isSafeInteger(maxHeaderBytes) || maxHeaderBytes < 2) {
    throw new TypeError(`Expected a positive integer for maxHeaderBytes but received ${String(maxHeaderBytes)}`);
  }
  return maxHeaderBytes;
}

function wantedOf(names: ReadSafetensorsOptions['names']): (name: string) => boolean {
  if (names === undefined) return () => true;
  if (typeof names === 'function') return names;
  if (Array.isArray(names) && names.every((n) => typeof n === 'string')) {
    const set = new Set(names);
    return (name) => set.has(name);
  }
  throw new TypeError(`Expected an array of strings or a function for names but received ${typeof names}`);
}

async function readExactly(fh: FileHandle, length: number, position: number, file: string, tensor?: string): Promise<Uint8Array> {
  // Its own ArrayBuffer at offset 0, so typed-array views on it are always aligned.
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(out, done, length - done, position + done);
    if (bytesRead === 0) {
      throw new SafetensorsError('MetadataIncompleteBuffer', file,
        `file ended at byte ${position + done} while reading bytes ${position}..${position + length} (truncated while being read?)`, tensor);
    }
    done += bytesRead;
  }
  return out;
}

async function readHeader(fh: FileHandle, file: string, maxHeaderBytes: number) {
  const fileSize = (await fh.stat()).size;
  if (fileSize < HEADER_LEN_BYTES) {
    throw new SafetensorsError('HeaderTooSmall', file, `file is ${fileSize} bytes, shorter than the 8-byte header length`);
  }
  const lenBytes = await readExactly(fh, HEADER_LEN_BYTES, 0, file);
  const n = Buffer.from(lenBytes.buffer).readBigUInt64LE(0);
  if (n > BigInt(maxHeaderBytes)) {
    throw new SafetensorsError('HeaderTooLarge', file, `header length ${n} exceeds maxHeaderBytes (${maxHeaderBytes})`);
  }
  const headerLen = Number(n);
  if (HEADER_LEN_BYTES + headerLen > fileSize) {
    throw new SafetensorsError('InvalidHeaderLength', file,
      `header length ${headerLen} runs past the end of the file (${fileSize} bytes)`);
  }
  const raw = await readExactly(fh, headerLen, HEADER_LEN_BYTES, file);
  let text: string;
  try {
    // ignoreBOM: keep a BOM so that JSON.parse rejects it, as serde_json does.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(raw);
  } catch {
    throw new SafetensorsError('InvalidHeader', file, 'header is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new SafetensorsError('InvalidHeaderDeserialization', file, `header is not valid JSON (${(err as Error).message})`);
  }
  const dataStart = HEADER_LEN_BYTES + headerLen;
  return { ...parseHeader(json, file, fileSize - dataStart), dataStart };
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Checks a parsed header against the spec; `dataLen` is the size of the data region. */
function parseHeader(json: unknown, file: string, dataLen: number) {
  if (!isPlainObject(json)) {
    throw new SafetensorsError('InvalidHeaderDeserialization', file, 'header is not a JSON object');
  }
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, TensorInfo>();
  for (const [name, entry] of Object.entries(json)) {
    if (name === METADATA_KEY) {
      if (entry === null) continue; // serde reads null as "no metadata"
      if (!isPlainObject(entry) || !Object.values(entry).every((v) => typeof v === 'string')) {
        throw new SafetensorsError('InvalidHeaderDeserialization', file, '__metadata__ must be a map of string to string');
      }
      Object.assign(metadata, entry);
      continue;
    }
    tensors.set(name, parseEntry(entry, file, name));
  }
  checkTiling(tensors, file, dataLen);
  return { tensors, metadata };
}

function parseEntry(entry: unknown, file: string, name: string): TensorInfo {
  const bad = (what: string) => new SafetensorsError('InvalidHeaderDeserialization', file, what, name);
  if (!isPlainObject(entry)) throw bad('header entry is not an object with dtype, shape and data_offsets');
  const { dtype, shape, data_offsets: offsets } = entry;
  if (dtype === undefined || shape === undefined || offsets === undefined) {
    const missing = ['dtype', 'shape', 'data_offsets'].filter((k) => entry[k] === undefined);
    throw bad(`header entry lacks ${missing.join(', ')}`);
  }
  if (typeof dtype !== 'string') throw bad(`dtype must be a string, got ${JSON.stringify(dtype)}`);
  if (!isSafeDType(dtype)) {
    throw new SafetensorsError('InvalidDtype', file,
      `unknown or unsupported dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(ITEM_SIZE).join(', ')})`, name);
  }
  if (!isShape(shape)) throw bad(`shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
    throw bad(`data_offsets must be [begin, end] with non-negative integers, got ${JSON.stringify(offsets)}`);
  }
  const [start, end] = offsets as [number, number];
  if (end < start) {
    throw new SafetensorsError('InvalidOffset', file, `data_offsets [${start}, ${end}] end before they begin`, name);
  }
  const numel = numelOf(shape);
  const nbytes = numel === undefined ? undefined : numel * ITEM_SIZE[dtype];
  if (nbytes === undefined || !Number.isSafeInteger(nbytes) || nbytes !== end - start) {
    throw new SafetensorsError('TensorInvalidInfo', file,
      `shape [${shape.join(', ')}] of ${dtype} needs ${nbytes ?? 'too many'} bytes but data_offsets [${start}, ${end}] hold ${end - start}`, name);
  }
  return { dtype, shape: [...shape], dataOffsets: [start, end] };
}

/** Sorted by offsets, the ranges must start at 0, abut each other and end at the end of the file. */
function checkTiling(tensors: Map<string, TensorInfo>, file: string, dataLen: number): void {
  const sorted = [...tensors].sort(([, a], [, b]) =>
    a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]);
  let covered = 0;
  let prev: string | undefined;
  for (const [name, { dataOffsets: [start, end] }] of sorted) {
    if (end > dataLen) {
      throw new SafetensorsError('MetadataIncompleteBuffer', file,
        `data_offsets [${start}, ${end}] run past the data region (${dataLen} bytes)`, name);
    }
    if (start < covered) {
      throw new SafetensorsError('InvalidOffset', file,
        `data_offsets [${start}, ${end}] overlap tensor "${prev}" (which ends at ${covered})`, name);
    }
    if (start > covered) {
      throw new SafetensorsError('InvalidOffset', file,
        `data_offsets [${start}, ${end}] leave a hole: bytes ${covered}..${start} belong to no tensor`, name);
    }
    covered = end;
    prev = name;
  }
  if (covered !== dataLen) {
    throw new SafetensorsError('MetadataIncompleteBuffer', file,
      `tensors cover ${covered} bytes of a ${dataLen}-byte data region: ${dataLen - covered} trailing bytes belong to no tensor`);
  }
}

// ---- writing -------------------------------------------------------------

/**
 * Writes tensors to a safetensors file, atomically (see {@link writeFileAtomic}).
 * The layout is the reference writer's: tensors sorted by dtype (widest first) then
 * name, compact JSON padded with spaces to 8 bytes, so the file is byte-identical to
 * `safetensors.torch.save_file(same_dict, path, metadata)` (for metadata with more
 * than one key, Python's order is a hash order; bertorch sorts the keys).
 * Pass `{format: 'pt'}` as metadata for files that `transformers` loads.
 *
 * @throws {TypeError|RangeError} for a malformed record (bad dtype, shape, or byte length).
 * @example await writeSafetensors('out/model.safetensors', tensors, { format: 'pt' });
 */
export async function writeSafetensors(
  path: string,
  tensors: Map<string, TensorRecord> | Record<string, TensorRecord>,
  metadata?: Record<string, string>,
): Promise<void> {
  const { header, order } = encodeHeader(tensors, metadata);
  await writeFileAtomic(path, [header, ...order.map(([, r]) => r.data)]);
}

/** The 8-byte length + padded JSON header, and the tensors in file order. */
export function encodeHeader(
  tensors: Map<string, TensorRecord> | Record<string, TensorRecord>,
  metadata?: Record<string, string>,
): { header: Uint8Array; order: [string, TensorRecord][] } {
  const entries = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  for (const [name, record] of entries) checkRecord(name, record);
  const order = entries.sort(([na, a], [nb, b]) =>
    DTYPE_RANK[b.dtype] - DTYPE_RANK[a.dtype] || Buffer.compare(Buffer.from(na), Buffer.from(nb)));

  // Built by hand: a JS object would move integer-like keys ("0") to the front.
  const parts: string[] = [];
  if (metadata !== undefined) parts.push(`"${METADATA_KEY}":${encodeMetadata(metadata)}`);
  let offset = 0;
  for (const [name, { dtype, shape, data }] of order) {
    const end = offset + data.byteLength;
    parts.push(`${JSON.stringify(name)}:{"dtype":"${dtype}","shape":[${shape.join(',')}],"data_offsets":[${offset},${end}]}`);
    offset = end;
  }
  const json = Buffer.from(`{${parts.join(',')}}`, 'utf8');
  const padded = Math.ceil(json.byteLength / 8) * 8;
  const header = Buffer.alloc(HEADER_LEN_BYTES + padded, 0x20);
  header.writeBigUInt64LE(BigInt(padded), 0);
  json.copy(header, HEADER_LEN_BYTES);
  return { header, order };
}

function encodeMetadata(metadata: Record<string, string>): string {
  if (!isPlainObject(metadata)) {
    throw new TypeError(`Expected a string-to-string object for metadata but received ${typeof metadata}`);
  }
  const keys = Object.keys(metadata).sort();
  for (const k of keys) {
    if (typeof metadata[k] !== 'string' || hasLoneSurrogate(k) || hasLoneSurrogate(metadata[k])) {
      throw new TypeError(`Expected a string for metadata["${k}"] but received ${typeof metadata[k]}`);
    }
  }
  return `{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(metadata[k])}`).join(',')}}`;
}

// A lone surrogate cannot be encoded as UTF-8 (Buffer would silently write U+FFFD).
function hasLoneSurrogate(s: string): boolean {
  return /[\uD800-\uDFFF]/u.test(s);
}

function checkRecord(name: string, record: TensorRecord): void {
  if (name === METADATA_KEY || hasLoneSurrogate(name)) {
    throw new TypeError(`Expected a tensor name for tensors key but received ${JSON.stringify(name)}`);
  }
  if (!isPlainObject(record)) throw new TypeError(`Expected a TensorRecord for tensor "${name}" but received ${typeof record}`);
  if (!isSafeDType(record.dtype)) {
    throw new TypeError(`Expected a safetensors dtype for tensor "${name}" dtype but received ${String(record.dtype)}`);
  }
  if (!isShape(record.shape)) {
    throw new TypeError(`Expected a list of non-negative integers for tensor "${name}" shape but received ${JSON.stringify(record.shape)}`);
  }
  if (!(record.data instanceof Uint8Array)) {
    throw new TypeError(`Expected a Uint8Array for tensor "${name}" data but received ${typeof record.data}`);
  }
  const want = (numelOf(record.shape) ?? NaN) * ITEM_SIZE[record.dtype];
  if (record.data.byteLength !== want) {
    throw new RangeError(`Expected ${want} bytes (shape [${record.shape.join(', ')}] of ${record.dtype}) for tensor "${name}" data but received ${record.data.byteLength}`);
  }
}

// ---- typed arrays --------------------------------------------------------

type TypedArrayCtor = { new (buffer: ArrayBufferLike, byteOffset: number, length: number): SafeTypedArray; BYTES_PER_ELEMENT: number };

const CTOR: Record<SafeDType, TypedArrayCtor> = {
  F64: Float64Array, F32: Float32Array, F16: Uint16Array, BF16: Uint16Array,
  I64: BigInt64Array, I32: Int32Array, I16: Int16Array, I8: Int8Array, U8: Uint8Array, BOOL: Uint8Array,
  U16: Uint16Array, U32: Uint32Array, U64: BigUint64Array,
};

/**
 * A typed-array view of a record's elements (F16/BF16: raw bits as Uint16Array, BOOL: Uint8Array).
 * Shares memory with `record.data` when it is aligned (always, for records read
 * here); otherwise, or on a big-endian host, returns a copy.
 * @throws {TypeError} for a malformed record.
 * @example const w = toTypedArray(record) as Float32Array;
 */
export function toTypedArray(record: TensorRecord): SafeTypedArray {
  checkRecord('<record>', record);
  const Ctor = CTOR[record.dtype];
  const size = Ctor.BYTES_PER_ELEMENT;
  let bytes = record.data;
  if (!LITTLE_ENDIAN) bytes = swapBytes(bytes, size);
  else if (bytes.byteOffset % size !== 0) bytes = bytes.slice();
  return new Ctor(bytes.buffer, bytes.byteOffset, bytes.byteLength / size);
}

/**
 * Wraps a typed array as a TensorRecord (a view on the same memory on little-endian hosts).
 * The dtype is inferred from the array type; give it for Uint16Array as F16/BF16 or
 * Uint8Array as BOOL.
 * @throws {TypeError} when the dtype does not fit the array; {RangeError} when shape's product is not array.length.
 * @example fromTypedArray(new Float32Array(6), [2, 3]) // { dtype: 'F32', shape: [2, 3], ... }
 */
export function fromTypedArray(array: SafeTypedArray | Uint8ClampedArray, shape: readonly number[], dtype?: SafeDType): TensorRecord {
  const inferred = inferDtype(array);
  if (inferred === undefined) {
    throw new TypeError(`Expected a typed array for array but received ${Object.prototype.toString.call(array)}`);
  }
  const dt = dtype ?? inferred;
  if (!isSafeDType(dt) || CTOR[dt] !== CTOR[inferred]) {
    throw new TypeError(`Expected a dtype matching ${array.constructor.name} for dtype but received ${String(dtype)}`);
  }
  if (!isShape(shape)) throw new TypeError(`Expected a list of non-negative integers for shape but received ${JSON.stringify(shape)}`);
  if (numelOf(shape) !== array.length) {
    throw new RangeError(`Expected a shape with ${array.length} elements for shape but received [${shape.join(', ')}]`);
  }
  let data = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
  if (!LITTLE_ENDIAN) data = swapBytes(data, array.BYTES_PER_ELEMENT);
  return { dtype: dt, shape: [...shape], data };
}

function inferDtype(array: unknown): SafeDType | undefined {
  if (array instanceof Float64Array) return 'F64';
  if (array instanceof Float32Array) return 'F32';
  if (array instanceof BigInt64Array) return 'I64';
  if (array instanceof BigUint64Array) return 'U64';
  if (array instanceof Int32Array) return 'I32';
  if (array instanceof Uint32Array) return 'U32';
  if (array instanceof Int16Array) return 'I16';
  if (array instanceof Uint16Array) return 'U16';
  if (array instanceof Int8Array) return 'I8';
  if (array instanceof Uint8Array || array instanceof Uint8ClampedArray) return 'U8';
  return undefined;
}

function swapBytes(src: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(src.byteLength);
  for (let i = 0; i < src.byteLength; i += size) {
    for (let j = 0; j < size; j++) out[i + j] = src[i + size - 1 - j];
  }
  return out;
}

// ---- HF checkpoint folders -----------------------------------------------

const SAFE_WEIGHTS = 'model.safetensors';
const SAFE_INDEX = 'model.safetensors.index.json';
const PICKLE_RE = /\.(bin|pt|pth|ckpt|pkl)$/i;

async function readIndex(dir: string): Promise<Map<string, string>> {
  const file = join(dir, SAFE_INDEX);
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== undefined) throw err;
    throw new SafetensorsError('InvalidIndex', file, `not valid JSON (${(err as Error).message})`);
  }
  const weightMap = isPlainObject(json) ? json.weight_map : undefined;
  if (!isPlainObject(weightMap)) throw new SafetensorsError('InvalidIndex', file, 'has no "weight_map" object');
  const map = new Map<string, string>();
  for (const [name, shard] of Object.entries(weightMap)) {
    // Shards live beside the index: a path elsewhere ("../x", "/etc/x") is refused.
    if (typeof shard !== 'string' || shard === '' || shard === '.' || shard === '..' || basename(shard) !== shard || shard.includes('\\')) {
      throw new SafetensorsError('InvalidIndex', file, `weight_map entry must be a file name in the same folder, got ${JSON.stringify(shard)}`, name);
    }
    map.set(name, shard);
  }
  return map;
}

/**
 * The shard files listed in `dir/model.safetensors.index.json` (`weight_map` values),
 * unique, sorted, joined with `dir`.
 * @throws {SafetensorsError} (`ERR_SAFETENSORS`, kind `InvalidIndex`); fs errors (`ENOENT`) as is.
 * @example const shards = await readShardedIndex('ckpt'); // ['ckpt/model-00001-of-00002.safetensors', ...]
 */
export async function readShardedIndex(dir: string): Promise<string[]> {
  const shards = [...new Set((await readIndex(dir)).values())].sort();
  return shards.map((s) => join(dir, s));
}

/**
 * Loads the state dict of an HF model folder: `model.safetensors`, else the shards
 * of `model.safetensors.index.json`. Pickle checkpoints (`pytorch_model.bin`, `*.pt`)
 * are refused, with how to convert them.
 * @throws {SafetensorsError} (`ERR_SAFETENSORS`; kinds `PickleCheckpoint`, `NoCheckpoint`,
 * `InvalidIndex`, `MissingTensor`, and the file-format kinds).
 * @example const { tensors } = await loadStateDictFiles('test/fixtures/bert-tiny-parity/checkpoint');
 */
export async function loadStateDictFiles(
  dir: string,
  options: ReadSafetensorsOptions = {},
): Promise<{ tensors: Map<string, TensorRecord>; metadata: Record<string, string>; files: string[] }> {
  const entries = new Set(await readdir(dir));
  if (entries.has(SAFE_WEIGHTS)) {
    const file = join(dir, SAFE_WEIGHTS);
    return { ...(await readSafetensors(file, options)), files: [file] };
  }
  if (entries.has(SAFE_INDEX)) return loadSharded(dir, options);
  const pickles = [...entries].filter((e) => PICKLE_RE.test(e) || e === 'pytorch_model.bin.index.json').sort();
  if (pickles.length > 0) {
    throw new SafetensorsError('PickleCheckpoint', dir,
      `found ${pickles.join(', ')} but no ${SAFE_WEIGHTS}. bertorch does not load pickle checkpoints: ` +
      'unpickling a file can run arbitrary code. Convert it once, in Python you trust: ' +
      "`import torch; from safetensors.torch import save_file; sd = torch.load('pytorch_model.bin', weights_only=True); " +
      "save_file({k: v.contiguous() for k, v in sd.items()}, 'model.safetensors', metadata={'format': 'pt'})` " +
      '(if it reports shared tensors, use transformers instead: ' +
      '`AutoModel.from_pretrained(dir).save_pretrained(dir, safe_serialization=True)`).');
  }
  throw new SafetensorsError('NoCheckpoint', dir, `no ${SAFE_WEIGHTS} or ${SAFE_INDEX} in this folder`);
}

async function loadSharded(dir: string, options: ReadSafetensorsOptions) {
  const weightMap = await readIndex(dir);
  const wanted = wantedOf(options.names);
  if (Array.isArray(options.names)) {
    for (const name of options.names) {
      if (!weightMap.has(name)) throw new SafetensorsError('MissingTensor', join(dir, SAFE_INDEX), 'not in weight_map', name);
    }
  }
  const byShard = new Map<string, string[]>();
  for (const [name, shard] of weightMap) {
    if (!wanted(name)) continue;
    byShard.set(shard, [...(byShard.get(shard) ?? []), name]);
  }
  const tensors = new Map<string, TensorRecord>();
  const metadata: Record<string, string> = {};
  const files = [...new Set(weightMap.values())].sort().map((s) => join(dir, s));
  for (const file of files) {
    // Every shard is opened (its header validated) even when no wanted tensor is in it.
    const part = await readSafetensors(file, { ...options, names: byShard.get(basename(file)) ?? [] });
    for (const [name, record] of part.tensors) tensors.set(name, record);
    Object.assign(metadata, part.metadata);
  }
  return { tensors, metadata, files };
}
