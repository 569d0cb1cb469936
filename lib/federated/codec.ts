/**
 * The wire format of weights and updates: safetensors bytes in memory (the
 * format bertorch checkpoints use, so `safetensors.torch.load(bytes)` reads an
 * update in Python), float32 tensors only, with string metadata (round,
 * client id, example count). Decoding is defensive, as for files: bounded
 * header, UTF-8 JSON, F32 only, `shape x 4 == byte range`, ranges tiling the
 * data exactly. Only weights travel; training data never does.
 */
import { encodeHeader, fromTypedArray, toTypedArray } from '../models/safetensors.js';
import { UpdateRejectedError } from './validate.js';
import type { Weights } from './weights.js';

/** Metadata key/values stored in the safetensors header (`__metadata__`). */
export type WireMetadata = Record<string, string>;

/**
 * Serialises weights (and metadata) to safetensors bytes.
 * @example const bytes = encodeWeights(delta, { round: '3', numExamples: '120' });
 */
export function encodeWeights(weights: Weights, metadata: WireMetadata = {}): Uint8Array {
  const records = new Map([...weights].map(([k, t]) => [k, fromTypedArray(t.data, t.shape, 'F32')]));
  const { header, order } = encodeHeader(records, metadata);
  let total = header.byteLength;
  for (const [, r] of order) total += r.data.byteLength;
  const out = new Uint8Array(total);
  out.set(header, 0);
  let at = header.byteLength;
  for (const [, r] of order) { out.set(r.data, at); at += r.data.byteLength; }
  return out;
}

export interface WireDecodeOptions {
  /** Largest JSON header accepted. @default 16 MiB */
  maxHeaderBytes?: number;
  /** Largest message accepted. @default 2 GiB */
  maxBytes?: number;
}

/**
 * Parses safetensors bytes into weights and metadata.
 * @throws {UpdateRejectedError} reason 'size', 'decode' or 'dtype' for anything malformed.
 */
export function decodeWeights(bytes: Uint8Array, o: WireDecodeOptions = {}): { weights: Weights; metadata: WireMetadata } {
  const maxHeader = o.maxHeaderBytes ?? 16 << 20;
  const maxBytes = o.maxBytes ?? 2 ** 31;
  const bad = (m: string) => new UpdateRejectedError('decode', m);
  if (!(bytes instanceof Uint8Array)) throw bad('message is not bytes');
  if (bytes.byteLength > maxBytes) throw new UpdateRejectedError('size', `message of ${bytes.byteLength} bytes exceeds ${maxBytes}`);
  if (bytes.byteLength < 8) throw bad(`message of ${bytes.byteLength} bytes is shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(maxHeader)) throw bad(`header length ${n} exceeds ${maxHeader}`);
  const headerLen = Number(n);
  if (8 + headerLen > bytes.byteLength) throw bad(`header length ${headerLen} runs past the end of the message`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, 8 + headerLen)));
  } catch (e) {
    throw bad(`header is not UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw bad('header is not a JSON object');
  const dataStart = 8 + headerLen;
  const dataLen = bytes.byteLength - dataStart;
  const metadata: WireMetadata = {};
  const entries: [string, number[], number, number][] = [];
  for (const [name, e] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (e === null) continue;
      if (typeof e !== 'object' || Array.isArray(e) || !Object.values(e as object).every((v) => typeof v === 'string'))
        throw bad('__metadata__ must map strings to strings');
      Object.assign(metadata, e);
      continue;
    }
    const entry = e as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof entry !== 'object' || entry === null) throw bad(`${name}: header entry is not an object`);
    if (entry.dtype !== 'F32') throw new UpdateRejectedError('dtype', `${name}: dtype ${JSON.stringify(entry.dtype)}, expected F32`);
    const shape = entry.shape, off = entry.data_offsets;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw bad(`${name}: bad shape ${JSON.stringify(shape)}`);
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0) || off[1] < off[0])
      throw bad(`${name}: bad data_offsets ${JSON.stringify(off)}`);
    const numel = shape.reduce((a: number, b: number) => a * b, 1);
    if (!Number.isSafeInteger(numel * 4) || numel * 4 !== off[1] - off[0]) throw bad(`${name}: shape [${shape}] does not match data_offsets [${off}]`);
    entries.push([name, shape, off[0], off[1]]);
  }
  // The byte ranges must tile the data region: no overlap, no hole, no trailing bytes.
  const sorted = [...entries].sort((a, b) => a[2] - b[2]);
  let covered = 0;
  for (const [name, , start, end] of sorted) {
    if (start !== covered) throw bad(`${name}: data_offsets start at ${start}, expected ${covered} (overlap or hole)`);
    if (end > dataLen) throw bad(`${name}: data_offsets run past the end of the message`);
    covered = end;
  }
  if (covered !== dataLen) throw bad(`${dataLen - covered} trailing bytes belong to no tensor`);
  const weights: Weights = new Map();
  for (const [name, shape, start, end] of entries) {
    // slice(): its own aligned buffer, independent of the message.
    const data = bytes.slice(dataStart + start, dataStart + end);
    weights.set(name, { shape, data: toTypedArray({ dtype: 'F32', shape, data }) as Float32Array });
  }
  return { weights, metadata };
}

/** What a client sends after local training: a delta, never data. */
export interface ClientUpdate {
  /** local weights - global weights, by parameter name. */
  delta: Weights;
  /** Examples the client trained on (FedAvg's weight). */
  numExamples: number;
  /** Client-side numbers (local loss...), reported in the round history. */
  metrics?: Record<string, number>;
}

/**
 * What an update says about itself (header metadata): its round, its sender,
 * and over HTTP the round's nonce and the SHA-256 of the global model bytes it
 * trained from, which the server checks against what it issued.
 */
export interface UpdateAbout {
  round: number;
  clientId: string;
  /** The nonce of the task this update answers. @default '' */
  nonce?: string;
  /** SHA-256 (hex) of the global model's bytes the client trained from. @default '' */
  modelHash?: string;
}

/** Serialises an update with its round, client id (and nonce and model hash) in the header metadata. */
export function encodeUpdate(u: ClientUpdate, about: UpdateAbout): Uint8Array {
  return encodeWeights(u.delta, {
    round: String(about.round), clientId: about.clientId, numExamples: String(u.numExamples),
    metrics: JSON.stringify(u.metrics ?? {}),
    ...(about.nonce ? { nonce: about.nonce } : {}), ...(about.modelHash ? { modelHash: about.modelHash } : {}),
  });
}

/**
 * Parses an update.
 * @throws {UpdateRejectedError} for malformed bytes or metadata.
 */
export function decodeUpdate(bytes: Uint8Array, o: WireDecodeOptions = {}): { update: ClientUpdate } & Required<UpdateAbout> {
  const { weights, metadata } = decodeWeights(bytes, o);
  const round = Number(metadata.round), numExamples = Number(metadata.numExamples);
  if (!Number.isSafeInteger(round)) throw new UpdateRejectedError('decode', `metadata round ${JSON.stringify(metadata.round)} is not an integer`);
  let metrics: Record<string, number> = {};
  try {
    const m = JSON.parse(metadata.metrics ?? '{}');
    if (m && typeof m === 'object' && !Array.isArray(m)) metrics = Object.fromEntries(Object.entries(m).filter(([, v]) => typeof v === 'number')) as Record<string, number>;
  } catch { /* metrics are informational; bad ones are dropped */ }
  return {
    update: { delta: weights, numExamples, metrics }, round, clientId: String(metadata.clientId ?? ''),
    nonce: String(metadata.nonce ?? ''), modelHash: String(metadata.modelHash ?? ''),
  };
}
