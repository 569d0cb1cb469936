// lib/models/safetensors.ts and lib/models/atomic.ts: reading the parity
// fixture (checked against Python's safetensors), round trips, byte identity
// with safetensors.torch.save_file, one test per malformed-file rule, HF
// folders (single, sharded, pickle refused) and atomic replacement.
// Python comes from BERTORCH_PYTHON, else .venv/bin/python (helpers/python.ts); the
// tests that need it are skipped with the reason when it cannot import
// safetensors + torch (a failure under CI).

import test from 'ava';
import type { ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PYTHON, pythonGate } from './helpers/python.js';
import { writeFileAtomic } from '../lib/models/atomic.js';
import {
  SafetensorsError, fromTypedArray, itemSize, loadStateDictFiles, readSafetensors,
  readSafetensorsHeader, readShardedIndex, toTypedArray, writeSafetensors,
} from '../lib/models/safetensors.js';
import type { SafeDType, TensorRecord } from '../lib/models/safetensors.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const fixture = join(root, 'test/fixtures/bert-tiny-parity');
const checkpoint = join(fixture, 'checkpoint/model.safetensors');
const inputs = join(fixture, 'inputs.safetensors');
const st = { instanceOf: SafetensorsError, code: 'ERR_SAFETENSORS' };

let scratch = '';
test.before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'bertorch-st-'));
});
test.after.always(async () => {
  if (scratch) {
    await chmod(scratch, 0o755).catch(() => {});
    await rm(scratch, { recursive: true, force: true });
  }
});
let counter = 0;
const tmpPath = (name: string) => join(scratch, `${counter++}-${name}`);
const leftovers = async (dir: string) => (await readdir(dir)).filter((f) => f.includes('.tmp-'));

// ---- Python reference -----------------------------------------------------

// Tests that need Python with safetensors + torch run through py.test: skipped
// with the reason where they are missing, a failure under CI (pythonGate).
const py = pythonGate(['safetensors', 'torch']);

/** Runs `code` with `args` in Python; undefined when safetensors/torch are unavailable (py.available). */
function runPython(code: string, args: string[] = []): string | undefined {
  if (!py.available) return undefined;
  const r = spawnSync(PYTHON, ['-c', code, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  return r.stdout;
}

// For each tensor: the reference reader's dtype and shape, a float64 sum and the first values.
const SUMMARY_PY = `
import json, sys, torch
from safetensors import safe_open
out = {}
with safe_open(sys.argv[1], framework="pt") as f:
    for k in f.keys():
        s = f.get_slice(k); t = f.get_tensor(k)
        out[k] = {"dtype": s.get_dtype(), "shape": list(s.get_shape()),
                  "sum": t.double().sum().item(), "head": t.flatten()[:4].tolist()}
    out = {"tensors": out, "metadata": f.metadata()}
print(json.dumps(out))
`;

function asNumbers(record: TensorRecord): number[] {
  return Array.from(toTypedArray(record) as ArrayLike<number | bigint>, Number);
}

async function checkAgainstPython(t: ExecutionContext, file: string) {
  const out = runPython(SUMMARY_PY, [file]);
  if (out === undefined) return;
  const ref = JSON.parse(out) as {
    tensors: Record<string, { dtype: string; shape: number[]; sum: number; head: number[] }>;
    metadata: Record<string, string> | null;
  };
  const { tensors, metadata } = await readSafetensors(file);
  t.deepEqual([...tensors.keys()].sort(), Object.keys(ref.tensors).sort());
  t.deepEqual(metadata, ref.metadata ?? {});
  let worst = 0;
  for (const [name, r] of Object.entries(ref.tensors)) {
    const rec = tensors.get(name)!;
    t.is(rec.dtype as string, r.dtype, name);
    t.deepEqual(rec.shape, r.shape, name);
    const values = asNumbers(rec);
    t.deepEqual(values.slice(0, 4), r.head, name);
    const sum = values.reduce((a, b) => a + b, 0);
    worst = Math.max(worst, Math.abs(sum - r.sum) / (1 + Math.abs(r.sum)));
  }
  t.log(`largest relative difference of a tensor sum vs Python: ${worst.toExponential(2)}`);
  t.true(worst < 1e-9);
}

// ---- the parity fixture ---------------------------------------------------

test('the BERT checkpoint reads with the names, dtypes and shapes of its README', async (t) => {
  const { tensors, metadata } = await readSafetensors(checkpoint);
  t.is(tensors.size, 46);
  t.deepEqual(metadata, { format: 'pt' });
  t.deepEqual(tensors.get('bert.embeddings.word_embeddings.weight')?.shape, [512, 64]);
  t.deepEqual(tensors.get('bert.encoder.layer.1.output.dense.weight')?.shape, [64, 128]);
  t.deepEqual(tensors.get('cls.seq_relationship.bias')?.shape, [2]);
  t.true([...tensors.values()].every((r) => r.dtype === 'F32'));
  let numel = 0;
  for (const r of tensors.values()) numel += r.shape.reduce((a, b) => a * b, 1);
  t.is(numel, 113154);
});

py.test('the BERT checkpoint matches what Python safetensors reads from it', async (t) => {
  await checkAgainstPython(t, checkpoint);
});

test('inputs.safetensors reads as int64 tensors matching Python', async (t) => {
  const { tensors } = await readSafetensors(inputs);
  t.deepEqual([...tensors.keys()].sort(),
    ['attention_mask', 'input_ids', 'mlm_labels', 'seqcls_labels', 'tokcls_labels', 'token_type_ids']);
  t.true([...tensors.values()].every((r) => r.dtype === 'I64'));
  t.deepEqual(tensors.get('input_ids')?.shape, [3, 16]);
  t.deepEqual(toTypedArray(tensors.get('seqcls_labels')!), BigInt64Array.from([2n, 0n, 1n]));
  await checkAgainstPython(t, inputs);
});

test('the names option reads only the wanted tensors', async (t) => {
  const byList = await readSafetensors(checkpoint, { names: ['cls.predictions.bias'] });
  t.deepEqual([...byList.tensors.keys()], ['cls.predictions.bias']);
  const byPredicate = await readSafetensors(checkpoint, { names: (n) => n.startsWith('bert.pooler.') });
  t.deepEqual([...byPredicate.tensors.keys()].sort(), ['bert.pooler.dense.bias', 'bert.pooler.dense.weight']);
  await t.throwsAsync(readSafetensors(checkpoint, { names: ['nope'] }), { ...st, message: /nope/ });
  const header = await readSafetensorsHeader(checkpoint);
  t.is(header.tensors.size, 46);
  t.is(header.dataStart % 8, 0);
});

// ---- writing --------------------------------------------------------------

function sample(): Map<string, TensorRecord> {
  const m = new Map<string, TensorRecord>();
  m.set('w', fromTypedArray(Float32Array.from([1.5, -2, 3.25, 0, 7, -0.5]), [2, 3]));
  m.set('d', fromTypedArray(Float64Array.from([Math.PI]), []));
  m.set('ids', fromTypedArray(BigInt64Array.from([-1n, 2n ** 40n]), [2]));
  m.set('h', fromTypedArray(Uint16Array.from([0x3c00, 0xc000]), [2], 'F16'));
  m.set('b', fromTypedArray(Uint16Array.from([0x3f80]), [1, 1], 'BF16'));
  m.set('i', fromTypedArray(Int32Array.from([-7, 8, 9]), [3]));
  m.set('s', fromTypedArray(Int16Array.from([-300]), [1]));
  m.set('c', fromTypedArray(Int8Array.from([-1, 1]), [2]));
  m.set('u', fromTypedArray(Uint8Array.from([255]), [1]));
  m.set('mask', fromTypedArray(Uint8Array.from([1, 0, 1]), [3], 'BOOL'));
  m.set('empty', fromTypedArray(new Float32Array(0), [0, 4]));
  m.set('u64', fromTypedArray(BigUint64Array.from([2n ** 63n]), [1]));
  return m;
}

test('a written file reads back with the same dtypes, shapes and bytes', async (t) => {
  const dir = tmpPath('roundtrip');
  await mkdir(dir);
  const file = join(dir, 'model.safetensors');
  const written = sample();
  await writeSafetensors(file, written, { format: 'pt', note: 'hello' });
  const { tensors, metadata } = await readSafetensors(file);
  t.deepEqual(metadata, { format: 'pt', note: 'hello' });
  t.deepEqual([...tensors.keys()].sort(), [...written.keys()].sort());
  for (const [name, r] of written) {
    const back = tensors.get(name)!;
    t.is(back.dtype, r.dtype);
    t.deepEqual(back.shape, r.shape);
    t.deepEqual(Buffer.from(back.data), Buffer.from(r.data));
  }
  t.deepEqual(toTypedArray(tensors.get('w')!), Float32Array.from([1.5, -2, 3.25, 0, 7, -0.5]));
  t.deepEqual(toTypedArray(tensors.get('u64')!), BigUint64Array.from([2n ** 63n]));
  t.deepEqual(await leftovers(dir), []);
});

py.test('the file is byte-identical to safetensors.torch.save_file for the same tensors', async (t) => {
  const pyFile = tmpPath('python.safetensors');
  const dump = runPython(`
import json, sys, torch
from safetensors.torch import save_file
g = torch.Generator().manual_seed(0)
d = {
  "encoder.weight": torch.randn(3, 4, generator=g),
  "0": torch.randn(2, generator=g),
  "a.bias": torch.randn(4, generator=g, dtype=torch.float64),
  "half": torch.randn(5, generator=g).half(),
  "brain": torch.randn(3, generator=g).bfloat16(),
  "ids": torch.tensor([[1, -2], [3, 2**40]]),
  "pos": torch.arange(7, dtype=torch.int32),
  "short": torch.tensor([-3, 4], dtype=torch.int16),
  "byte": torch.tensor([250, 1, 2], dtype=torch.uint8),
  "sbyte": torch.tensor([-128, 127], dtype=torch.int8),
  "mask": torch.tensor([True, False, True]),
  "u16": torch.tensor([1, 65535], dtype=torch.uint16),
  "u32": torch.tensor([7], dtype=torch.uint32),
  "u64": torch.tensor([2**63 + 5], dtype=torch.uint64),
  "loss": torch.tensor(0.25),
  "Zed": torch.zeros(0, 3),
  "caf\\u00e9": torch.ones(1),
}
save_file(d, sys.argv[1], metadata={"format": "pt"})
print(json.dumps({k: [str(v.dtype), list(v.shape), v.contiguous().view(-1).view(torch.uint8).numpy().tobytes().hex()] for k, v in d.items()}))
`, [pyFile]);
  if (dump === undefined) return;
  const DT: Record<string, SafeDType> = {
    'torch.float32': 'F32', 'torch.float64': 'F64', 'torch.float16': 'F16', 'torch.bfloat16': 'BF16',
    'torch.int64': 'I64', 'torch.int32': 'I32', 'torch.int16': 'I16', 'torch.int8': 'I8',
    'torch.uint8': 'U8', 'torch.bool': 'BOOL', 'torch.uint16': 'U16', 'torch.uint32': 'U32', 'torch.uint64': 'U64',
  };
  const tensors: Record<string, TensorRecord> = {};
  for (const [name, [dtype, shape, hex]] of Object.entries(JSON.parse(dump) as Record<string, [string, number[], string]>)) {
    tensors[name] = { dtype: DT[dtype], shape, data: Buffer.from(hex, 'hex') };
  }
  const ours = tmpPath('ours.safetensors');
  await writeSafetensors(ours, tensors, { format: 'pt' });
  const [a, b] = [await readFile(ours), await readFile(pyFile)];
  t.true(a.equals(b), `ours:   ${a.subarray(8, 200).toString()}\npython: ${b.subarray(8, 200).toString()}`);
});

test('invalid records are refused before any file is created', (t) => {
  const file = tmpPath('never.safetensors');
  const bad = (r: Partial<TensorRecord>) => writeSafetensors(file, { x: r as TensorRecord });
  return Promise.all([
    t.throwsAsync(bad({ dtype: 'F32', shape: [2, 2], data: new Uint8Array(12) }), { instanceOf: RangeError, message: /16 bytes/ }),
    t.throwsAsync(bad({ dtype: 'F8' as SafeDType, shape: [1], data: new Uint8Array(1) }), { instanceOf: TypeError }),
    t.throwsAsync(bad({ dtype: 'F32', shape: [-1], data: new Uint8Array(0) }), { instanceOf: TypeError }),
    t.throwsAsync(writeSafetensors(file, { __metadata__: fromTypedArray(new Float32Array(1), [1]) }), { instanceOf: TypeError }),
  ]).then(() => t.false(existsSync(file)));
});

test('typed-array helpers infer dtypes, share memory and copy unaligned data', (t) => {
  t.is(itemSize('BF16'), 2);
  t.is(itemSize('I64'), 8);
  const f = Float32Array.from([1, 2, 3, 4]);
  const rec = fromTypedArray(f, [2, 2]);
  t.is(rec.dtype, 'F32');
  t.is(rec.data.buffer, f.buffer);
  t.is(toTypedArray(rec).buffer, f.buffer);
  const shifted = new Uint8Array(17);
  shifted.set(rec.data, 1);
  const unaligned: TensorRecord = { dtype: 'F32', shape: [4], data: shifted.subarray(1) };
  t.deepEqual(toTypedArray(unaligned), f);
  t.throws(() => fromTypedArray(f, [3]), { instanceOf: RangeError });
  t.throws(() => fromTypedArray(f, [4], 'I32'), { instanceOf: TypeError });
  t.true(toTypedArray(fromTypedArray(Uint16Array.from([1]), [1], 'BF16')) instanceof Uint16Array);
});

// ---- malformed files: one rule each ---------------------------------------

/** A file from a header object (or raw header bytes) and `dataLen` zero bytes of data. */
async function craft(name: string, header: object | Buffer, dataLen: number, declaredLen?: bigint): Promise<string> {
  const json = Buffer.isBuffer(header) ? header : Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(declaredLen ?? BigInt(json.length));
  const file = tmpPath(name);
  await writeFile(file, Buffer.concat([len, json, Buffer.alloc(dataLen)]));
  return file;
}
const f32 = (shape: number[], start: number, end: number) => ({ dtype: 'F32', shape, data_offsets: [start, end] });

test('a file shorter than 8 bytes is refused', async (t) => {
  const file = tmpPath('short.safetensors');
  await writeFile(file, Buffer.from([1, 2, 3]));
  await t.throwsAsync(readSafetensors(file), { ...st, message: /short\.safetensors.*shorter than/ });
});

test('a header longer than maxHeaderBytes is refused without reading it', async (t) => {
  const file = await craft('big.safetensors', Buffer.from('{}'), 0, 200_000_000n);
  const err = await t.throwsAsync(readSafetensors(file), st);
  t.is(err?.kind, 'HeaderTooLarge');
  const small = await craft('small-limit.safetensors', { a: f32([4], 0, 16) }, 16);
  await t.throwsAsync(readSafetensors(small, { maxHeaderBytes: 16 }), { ...st, message: /maxHeaderBytes/ });
});

test('a header running past the end of the file is refused', async (t) => {
  const file = await craft('past-eof.safetensors', Buffer.from('{}'), 0, 1000n);
  const err = await t.throwsAsync(readSafetensors(file), { ...st, message: /past the end of the file/ });
  t.is(err?.kind, 'InvalidHeaderLength');
});

test('a header that is not UTF-8, not JSON or not an object is refused', async (t) => {
  for (const [raw, kind] of [
    [Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]), 'InvalidHeader'],
    [Buffer.from('{"a": '), 'InvalidHeaderDeserialization'],
    [Buffer.from('[]'), 'InvalidHeaderDeserialization'],
    [Buffer.from('\ufeff{}'), 'InvalidHeaderDeserialization'],
  ] as const) {
    const err = await t.throwsAsync(readSafetensors(await craft('bad-json.safetensors', raw, 0)), st);
    t.is(err?.kind, kind, raw.toString());
  }
});

test('an entry missing fields, with wrong types or a bad shape is refused', async (t) => {
  for (const entry of [
    { shape: [1], data_offsets: [0, 4] },
    { dtype: 'F32', shape: '1', data_offsets: [0, 4] },
    { dtype: 'F32', shape: [-1], data_offsets: [0, 4] },
    { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] },
    { dtype: 'F32', shape: [1], data_offsets: [0] },
    'x',
  ]) {
    const file = await craft('bad-entry.safetensors', { weight: entry }, 4);
    const err = await t.throwsAsync(readSafetensors(file), { ...st, message: /bad-entry\.safetensors: tensor "weight"/ });
    t.is(err?.tensor, 'weight');
  }
  const meta = await craft('bad-meta.safetensors', { __metadata__: { step: 3 } }, 0);
  await t.throwsAsync(readSafetensors(meta), { ...st, message: /__metadata__/ });
});

test('an unknown dtype string is refused', async (t) => {
  const file = await craft('dtype.safetensors', { w: { dtype: 'float32', shape: [1], data_offsets: [0, 4] } }, 4);
  const err = await t.throwsAsync(readSafetensors(file), { ...st, message: /"w".*float32/ });
  t.is(err?.kind, 'InvalidDtype');
});

test('a shape that does not match the byte range is refused', async (t) => {
  const file = await craft('mismatch.safetensors', { w: f32([2, 3], 0, 20) }, 20);
  const err = await t.throwsAsync(readSafetensors(file), { ...st, message: /needs 24 bytes/ });
  t.is(err?.kind, 'TensorInvalidInfo');
  t.is(err?.tensor, 'w');
});

test('overlapping byte ranges are refused', async (t) => {
  const file = await craft('overlap.safetensors', { a: f32([2], 0, 8), b: f32([2], 4, 12) }, 12);
  const err = await t.throwsAsync(readSafetensors(file), { ...st, message: /"b".*overlap tensor "a"/ });
  t.is(err?.kind, 'InvalidOffset');
});

test('a byte range past the end of the data is refused', async (t) => {
  const file = await craft('oob.safetensors', { a: f32([2], 0, 8) }, 4);
  const err = await t.throwsAsync(readSafetensors(file), { ...st, message: /"a".*run past the data region/ });
  t.is(err?.kind, 'MetadataIncompleteBuffer');
});

test('a hole between ranges, before the first or after the last is refused', async (t) => {
  const gap = await craft('hole.safetensors', { a: f32([1], 0, 4), b: f32([1], 8, 12) }, 12);
  t.is((await t.throwsAsync(readSafetensors(gap), { ...st, message: /"b".*hole/ }))?.kind, 'InvalidOffset');
  const lead = await craft('lead.safetensors', { a: f32([1], 4, 8) }, 8);
  t.is((await t.throwsAsync(readSafetensors(lead), st))?.kind, 'InvalidOffset');
  const trail = await craft('trail.safetensors', { a: f32([1], 0, 4) }, 8);
  t.is((await t.throwsAsync(readSafetensors(trail), { ...st, message: /4 trailing bytes/ }))?.kind, 'MetadataIncompleteBuffer');
});

test('edge cases the reference reader accepts are accepted', async (t) => {
  // empty header, null metadata, zero-size tensors sharing an offset, unknown extra keys
  t.is((await readSafetensors(await craft('empty.safetensors', {}, 0))).tensors.size, 0);
  const file = await craft('edge.safetensors', {
    __metadata__: null, z1: f32([0], 0, 0), z2: f32([3, 0], 0, 0), s: { ...f32([], 0, 4), extra: 1 },
  }, 4);
  const { tensors } = await readSafetensors(file);
  t.deepEqual([...tensors.keys()].sort(), ['s', 'z1', 'z2']);
  t.deepEqual(tensors.get('s')?.shape, []);
});

// ---- HF checkpoint folders ------------------------------------------------

test('a checkpoint folder loads model.safetensors', async (t) => {
  const { tensors, files } = await loadStateDictFiles(join(fixture, 'checkpoint'), { names: (n) => n.startsWith('cls.') });
  t.deepEqual(files, [checkpoint]);
  t.is(tensors.size, 7);
});

test('a sharded checkpoint loads every shard of its index', async (t) => {
  const dir = tmpPath('sharded');
  await mkdir(dir);
  const all = sample();
  const names = [...all.keys()];
  const shards = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
  const weightMap: Record<string, string> = {};
  for (const [i, shard] of shards.entries()) {
    const part = new Map(names.filter((_, j) => j % 2 === i).map((n) => [n, all.get(n)!]));
    for (const n of part.keys()) weightMap[n] = shard;
    await writeSafetensors(join(dir, shard), part, { format: 'pt' });
  }
  await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 1 }, weight_map: weightMap }));
  t.deepEqual(await readShardedIndex(dir), shards.map((s) => join(dir, s)));
  const { tensors, files, metadata } = await loadStateDictFiles(dir);
  t.deepEqual(files, shards.map((s) => join(dir, s)));
  t.deepEqual(metadata, { format: 'pt' });
  t.deepEqual([...tensors.keys()].sort(), names.sort());
  t.deepEqual(Buffer.from(tensors.get('w')!.data), Buffer.from(all.get('w')!.data));

  await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { w: '../escape.safetensors' } }));
  const err = await t.throwsAsync(loadStateDictFiles(dir), st);
  t.is(err?.kind, 'InvalidIndex');
});

test('pickle checkpoints are refused with how to convert them', async (t) => {
  const dir = tmpPath('pickle');
  await mkdir(dir);
  await writeFile(join(dir, 'pytorch_model.bin'), 'not loaded');
  const err = await t.throwsAsync(loadStateDictFiles(dir), { ...st, message: /pytorch_model\.bin.*arbitrary code.*save_file.*safe_serialization=True/s });
  t.is(err?.kind, 'PickleCheckpoint');
  await rm(join(dir, 'pytorch_model.bin'));
  t.is((await t.throwsAsync(loadStateDictFiles(dir), st))?.kind, 'NoCheckpoint');
});

// ---- atomic replacement ---------------------------------------------------

test('a failed write leaves the old file intact and no temporary file', async (t) => {
  const dir = tmpPath('atomic');
  await mkdir(dir);
  const file = join(dir, 'state.json');
  await writeFileAtomic(file, '{"step":1}');
  function* failing() {
    yield Buffer.from('{"step":');
    throw new Error('disk on fire');
  }
  await t.throwsAsync(writeFileAtomic(file, failing()), { message: 'disk on fire' });
  t.is(await readFile(file, 'utf8'), '{"step":1}');
  t.deepEqual(await leftovers(dir), []);

  // The rename itself fails: the target is a folder.
  const folder = join(dir, 'model.safetensors');
  await mkdir(folder);
  await t.throwsAsync(writeSafetensors(folder, sample()), { code: 'EISDIR' });
  t.deepEqual(await leftovers(dir), []);

  await writeFileAtomic(file, [Buffer.from('{"step":'), Buffer.from('2}')]);
  t.is(await readFile(file, 'utf8'), '{"step":2}');
});

// Folder permissions work differently on Windows.
const posix = process.platform === 'win32' ? test.skip : test;
posix('a write into a read-only folder fails and leaves the old file intact', async (t) => {
  const dir = tmpPath('readonly');
  await mkdir(dir);
  const file = join(dir, 'model.safetensors');
  await writeSafetensors(file, sample());
  const before = await readFile(file);
  await chmod(dir, 0o555);
  try {
    if (process.getuid?.() !== 0) {
      await t.throwsAsync(writeSafetensors(file, new Map()), { code: 'EACCES' });
    } else {
      // Root writes anywhere: the write runs in a child process as nobody.
      await chmod(scratch, 0o755);
      const child = `const { writeSafetensors } = await import(${JSON.stringify(join(root, 'lib/models/safetensors.ts'))});
        try { await writeSafetensors(process.argv[1], new Map()); console.log('{"wrote":true}'); }
        catch (e) { console.log(JSON.stringify({ code: e.code })); }`;
      const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', child, file],
        { cwd: root, encoding: 'utf8', uid: 65534, gid: 65534, env: { ...process.env, HOME: '/tmp' }, timeout: 60_000 });
      t.is(r.status, 0, r.stderr);
      t.deepEqual(JSON.parse(r.stdout.trim().split('\n').pop()!), { code: 'EACCES' });
    }
  } finally {
    await chmod(dir, 0o755);
  }
  t.true((await readFile(file)).equals(before));
  t.deepEqual(await leftovers(dir), []);
});
