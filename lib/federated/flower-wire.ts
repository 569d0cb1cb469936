/**
 * Flower's wire formats, as flwr 1.42 writes them, for the Fleet API client
 * (flower.ts): a minimal protobuf codec (only the messages the Fleet API
 * needs, field numbers from flwr/proto/*.proto), NumPy .npy bytes (what a
 * Flower Array of stype "numpy.ndarray" carries), and Flower's
 * content-addressed "inflatable" objects: `<Type> <child ids,> <body length>\0<body>`
 * whose id is the SHA-256 of those bytes (Message -> RecordDict ->
 * ArrayRecord -> Array -> ArrayChunk, and ConfigRecord / MetricRecord).
 * Bodies are written byte for byte as Python writes them (json.dumps's
 * separators, protobuf fields in number order), so an object made here has the
 * id Flower would compute. Plain data; no libtorch.
 */
import { createHash } from 'node:crypto';
import type { Weights } from './weights.js';

// ---- protobuf ----

/** Decoded fields: varints as bigint, length-delimited as Buffer, fixed64 as Buffer(8). */
export type PbFields = Map<number, (bigint | Buffer)[]>;

export class PbWriter {
  #parts: Buffer[] = [];
  #varint(v: bigint): void {
    const out: number[] = [];
    let x = BigInt.asUintN(64, v);
    while (x >= 0x80n) { out.push(Number(x & 0x7fn) | 0x80); x >>= 7n; }
    out.push(Number(x));
    this.#parts.push(Buffer.from(out));
  }
  #tag(field: number, wire: number): void { this.#varint(BigInt((field << 3) | wire)); }
  uint(field: number, v: number | bigint, always = false): this {
    if (v || always) { this.#tag(field, 0); this.#varint(BigInt(v)); }
    return this;
  }
  sint(field: number, v: number | bigint, always = false): this {
    const b = BigInt(v);
    if (b || always) { this.#tag(field, 0); this.#varint((b << 1n) ^ (b >> 63n)); }
    return this;
  }
  bool(field: number, v: boolean): this { return this.uint(field, v ? 1 : 0); }
  double(field: number, v: number, always = false): this {
    if (v !== 0 || always) { this.#tag(field, 1); const b = Buffer.alloc(8); b.writeDoubleLE(v); this.#parts.push(b); }
    return this;
  }
  bytes(field: number, v: Uint8Array | string, always = false): this {
    const b = typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    if (b.byteLength || always) { this.#tag(field, 2); this.#varint(BigInt(b.byteLength)); this.#parts.push(b); }
    return this;
  }
  message(field: number, w: PbWriter): this { return this.bytes(field, w.finish(), true); }
  packedDoubles(field: number, vs: number[]): this {
    if (!vs.length) return this;
    const b = Buffer.alloc(8 * vs.length);
    vs.forEach((v, i) => b.writeDoubleLE(v, 8 * i));
    return this.bytes(field, b);
  }
  finish(): Buffer { return Buffer.concat(this.#parts); }
}

/** Parses protobuf bytes into fields (unknown fields kept; groups refused). */
export function pbRead(buf: Uint8Array): PbFields {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: PbFields = new Map();
  let i = 0;
  const varint = (): bigint => {
    let x = 0n, s = 0n;
    for (;;) {
      if (i >= b.length) throw new RangeError('protobuf: truncated varint');
      const c = b[i++];
      x |= BigInt(c & 0x7f) << s;
      if (!(c & 0x80)) return x;
      s += 7n;
      if (s > 63n) throw new RangeError('protobuf: varint too long');
    }
  };
  while (i < b.length) {
    const tag = Number(varint()), field = tag >> 3, wire = tag & 7;
    let v: bigint | Buffer;
    if (wire === 0) v = varint();
    else if (wire === 1) { v = b.subarray(i, i + 8); i += 8; }
    else if (wire === 5) { v = b.subarray(i, i + 4); i += 4; }
    else if (wire === 2) { const n = Number(varint()); if (i + n > b.length) throw new RangeError('protobuf: truncated field'); v = b.subarray(i, i + n); i += n; }
    else throw new RangeError(`protobuf: unsupported wire type ${wire}`);
    if (i > b.length) throw new RangeError('protobuf: truncated message');
    const list = out.get(field);
    if (list) list.push(v); else out.set(field, [v]);
  }
  return out;
}

export const pb = {
  uint: (f: PbFields, n: number): bigint => (f.get(n)?.at(-1) as bigint | undefined) ?? 0n,
  has: (f: PbFields, n: number): boolean => f.has(n),
  str: (f: PbFields, n: number): string => ((f.get(n)?.at(-1) as Buffer | undefined) ?? Buffer.alloc(0)).toString('utf8'),
  buf: (f: PbFields, n: number): Buffer => (f.get(n)?.at(-1) as Buffer | undefined) ?? Buffer.alloc(0),
  double: (f: PbFields, n: number): number => { const b = f.get(n)?.at(-1) as Buffer | undefined; return b ? b.readDoubleLE(0) : 0; },
  all: (f: PbFields, n: number): Buffer[] => (f.get(n) ?? []) as Buffer[],
  sint: (v: bigint): bigint => (v >> 1n) ^ -(v & 1n),
};

// ---- NumPy .npy ----

/** np.save's bytes of a float32 C-order array (format 1.0, header padded to 64 bytes). */
export function npyEncode(data: Float32Array, shape: readonly number[]): Buffer {
  const shp = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shp}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1; head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

/** A float32 or float64 little-endian C-order .npy as float32 data and its shape. */
export function npyDecode(b: Buffer): { shape: number[]; data: Float32Array } {
  if (b.subarray(0, 6).toString('latin1') !== '\x93NUMPY') throw new RangeError('not a .npy array');
  const major = b[6];
  const hlen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = b.subarray(start, start + hlen).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  if (/'fortran_order':\s*True/.test(header)) throw new RangeError('.npy in Fortran order is not supported');
  const shape = (/'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? '').split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const n = shape.reduce((a, x) => a * x, 1);
  const raw = b.subarray(start + hlen);
  const copy = Buffer.from(raw);  // aligned
  if (descr === '<f4') { if (raw.byteLength !== 4 * n) throw new RangeError('.npy size mismatch'); return { shape, data: new Float32Array(copy.buffer, copy.byteOffset, n) }; }
  if (descr === '<f8') { if (raw.byteLength !== 8 * n) throw new RangeError('.npy size mismatch'); return { shape, data: Float32Array.from(new Float64Array(copy.buffer, copy.byteOffset, n)) }; }
  throw new RangeError(`.npy dtype ${descr} is not supported (float32 or float64)`);
}

// ---- inflatable objects ----

export interface FlowerObject { id: string; content: Buffer; children: string[] }

/** `<type> <children,> <len>\0<body>` and its SHA-256. */
export function flowerObject(type: string, children: string[], body: Buffer): FlowerObject {
  const content = Buffer.concat([Buffer.from(`${type} ${children.join(',')} ${body.byteLength}\0`, 'utf8'), body]);
  return { id: createHash('sha256').update(content).digest('hex'), content, children };
}

/** Splits an object's content into type, child ids and body; checks its id and body length. */
export function parseObject(id: string, content: Buffer): { type: string; children: string[]; body: Buffer } {
  if (createHash('sha256').update(content).digest('hex') !== id) throw new RangeError(`object ${id.slice(0, 16)}... does not hash to its id`);
  const z = content.indexOf(0);
  if (z < 0) throw new RangeError(`object ${id.slice(0, 16)}... has no header`);
  const [type, kids, len] = content.subarray(0, z).toString('utf8').split(' ');
  const body = content.subarray(z + 1);
  if (Number(len) !== body.byteLength) throw new RangeError(`object ${id.slice(0, 16)}... body is ${body.byteLength} bytes, its header says ${len}`);
  return { type, children: kids ? kids.split(',') : [], body };
}

// Python's json.dumps (", " and ": " separators, ensure_ascii) for the flat objects Flower writes.
function pyJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(pyJson).join(', ')}]`;
  if (v && typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${pyJson(k)}: ${pyJson(x)}`).join(', ')}}`;
  if (typeof v === 'string') return JSON.stringify(v).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return JSON.stringify(v);
}

const CHUNK = 5 * 1024 * 1024;  // FLWR_PRIVATE_MAX_ARRAY_CHUNK_SIZE's default

/** The objects of one Array (float32 .npy, chunked) and the Array. */
export function arrayObjects(t: { shape: number[]; data: Float32Array }, out: Map<string, FlowerObject>): FlowerObject {
  const npy = npyEncode(t.data, t.shape);
  const chunkIds: string[] = [];
  for (let at = 0; at < npy.byteLength; at += CHUNK) {
    const c = flowerObject('ArrayChunk', [], npy.subarray(at, at + CHUNK));
    out.set(c.id, c);
    chunkIds.push(c.id);
  }
  const unique = [...new Set(chunkIds)];
  const body = pyJson({ dtype: 'float32', shape: t.shape, stype: 'numpy.ndarray', arraychunk_ids: chunkIds.map((id) => unique.indexOf(id)) });
  const a = flowerObject('Array', unique, Buffer.from(body));
  out.set(a.id, a);
  return a;
}

/** A record made of references (RecordDict, ArrayRecord): JSON {name: id}, unique children in order. */
export function refsObject(type: 'RecordDict' | 'ArrayRecord', refs: [string, FlowerObject][], out: Map<string, FlowerObject>): FlowerObject {
  const o = flowerObject(type, [...new Set(refs.map(([, r]) => r.id))], Buffer.from(pyJson(Object.fromEntries(refs.map(([k, r]) => [k, r.id])))));
  out.set(o.id, o);
  return o;
}

/** An ArrayRecord of weights (keys in their order). */
export function arrayRecordObjects(w: Weights, out: Map<string, FlowerObject>): FlowerObject {
  return refsObject('ArrayRecord', [...w].map(([k, t]) => [k, arrayObjects(t, out)]), out);
}

/** A MetricRecord: integers as sint64, other numbers as double (as Flower's record_value_dict_to_proto). */
export function metricRecordObject(m: Record<string, number>, out: Map<string, FlowerObject>): FlowerObject {
  const w = new PbWriter();
  for (const [k, v] of Object.entries(m)) {
    // A oneof member is written even when it is 0.
    const value = Number.isInteger(v) ? new PbWriter().sint(2, v, true) : new PbWriter().double(1, v, true);
    w.message(1, new PbWriter().bytes(1, k).message(2, value));
  }
  const o = flowerObject('MetricRecord', [], w.finish());
  out.set(o.id, o);
  return o;
}

/** A ConfigRecord's scalar values (lists are skipped). */
export function decodeConfigRecord(body: Buffer): Record<string, number | string | boolean> {
  const out: Record<string, number | string | boolean> = {};
  for (const item of pb.all(pbRead(body), 1)) {
    const f = pbRead(item);
    const key = pb.str(f, 1);
    const v = pbRead(pb.buf(f, 2));
    if (v.has(1)) out[key] = pb.double(v, 1);
    else if (v.has(2)) out[key] = Number(pb.sint(pb.uint(v, 2)));
    else if (v.has(3)) out[key] = Number(pb.uint(v, 3));
    else if (v.has(4)) out[key] = pb.uint(v, 4) !== 0n;
    else if (v.has(5)) out[key] = pb.str(v, 5);
  }
  return out;
}

/** Message metadata (flwr.proto.Metadata); task ids keep their presence. */
export interface FlowerMetadata {
  runId: bigint; messageId: string; srcNodeId: bigint; dstNodeId: bigint; replyToMessageId: string; groupId: string;
  ttl: number; messageType: string; createdAt: number; srcTaskId?: bigint; dstTaskId?: bigint;
}

export function decodeMetadata(b: Buffer): FlowerMetadata {
  const f = pbRead(b);
  return {
    runId: pb.uint(f, 1), messageId: pb.str(f, 2), srcNodeId: pb.uint(f, 3), dstNodeId: pb.uint(f, 4), replyToMessageId: pb.str(f, 5),
    groupId: pb.str(f, 6), ttl: pb.double(f, 7), messageType: pb.str(f, 8), createdAt: pb.double(f, 9),
    ...(pb.has(f, 10) ? { srcTaskId: pb.uint(f, 10) } : {}), ...(pb.has(f, 11) ? { dstTaskId: pb.uint(f, 11) } : {}),
  };
}

export function encodeMetadata(m: FlowerMetadata): PbWriter {
  const w = new PbWriter().uint(1, m.runId).bytes(2, m.messageId).uint(3, m.srcNodeId).uint(4, m.dstNodeId).bytes(5, m.replyToMessageId)
    .bytes(6, m.groupId).double(7, m.ttl).bytes(8, m.messageType).double(9, m.createdAt);
  if (m.srcTaskId !== undefined) w.uint(10, m.srcTaskId, true);
  if (m.dstTaskId !== undefined) w.uint(11, m.dstTaskId, true);
  return w;
}

/** The Message object (metadata without its id; content as the child) and its proto for PushMessages. */
export function messageObject(meta: FlowerMetadata, content: FlowerObject | null, error: { code: number; reason: string } | null, out: Map<string, FlowerObject>): FlowerObject {
  const w = new PbWriter().message(1, encodeMetadata({ ...meta, messageId: '' }));
  if (error) w.message(3, new PbWriter().sint(1, error.code).bytes(2, error.reason));
  const o = flowerObject('Message', content ? [content.id] : [], w.finish());
  out.set(o.id, o);
  return o;
}

/** flwr.proto.ObjectTree of `root` over `objects`. */
export function objectTree(root: string, objects: Map<string, FlowerObject>): PbWriter {
  const w = new PbWriter().bytes(1, root);
  for (const c of objects.get(root)?.children ?? []) w.message(2, objectTree(c, objects));
  return w;
}

/** All object ids of a received flwr.proto.ObjectTree, parents before children. */
export function treeIds(tree: Buffer): string[] {
  const f = pbRead(tree);
  return [pb.str(f, 1), ...pb.all(f, 2).flatMap(treeIds)];
}
