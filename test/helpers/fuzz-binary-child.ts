// One batch of the binary-input fuzz (test/fuzz-binary.test.ts), in its own
// process so that an abort or a hang is seen by the parent rather than taken
// for a test failure. Arguments: kind (safetensors | config | tokenizer |
// vocab), the folder of valid files, seed, first index, count. Each input is
// a structured or byte-level mutation of the valid file, loaded by the
// library; the outcome (loaded, or an error's name/code and whether its
// message names the file) is tallied and printed as one JSON line.

import fc from 'fast-check';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PreTrainedBert } from '../../lib/models/bert.js';
import { readConfig } from '../../lib/models/config.js';
import { readSafetensors } from '../../lib/models/safetensors.js';
import { Tokenizer } from '../../lib/tokenizer.js';
import { mutate, mutationsArb } from './fuzz-mutate.js';

const [kind, validDir, seedText, firstText, countText] = process.argv.slice(2);
const seed = Number(seedText);
const first = Number(firstText);
const count = Number(countText);
const FILES: Record<string, string> = { safetensors: 'model.safetensors', config: 'config.json', tokenizer: 'tokenizer.json', vocab: 'vocab.txt' };
const file = FILES[kind];
const valid = await readFile(join(validDir, file));

// JSON-level changes: a value swapped for a hostile one at a random path.
const HOSTILE = [null, -1, 0, 1e12, 2 ** 53, NaN, 2.5, '', 'x', [], [-1], [1e12], [2.5], ['a'], {}, true, 'F8_E4M3', 'XX', [0, 2 ** 40], [8, 4]];
function setAt(value: unknown, path: number[], replacement: unknown): unknown {
  if (path.length === 0 || value === null || typeof value !== 'object') return replacement;
  const keys = Object.keys(value);
  if (keys.length === 0) return replacement;
  const key = keys[path[0] % keys.length];
  const copy: any = Array.isArray(value) ? [...value] : { ...value };
  copy[key] = path.length === 1 && path[0] % 7 === 6 ? undefined : setAt(copy[key], path.slice(1), replacement);
  return copy;
}

// A model's tensors with their shapes transposed or swapped (same bytes, offsets
// intact) or their data overwritten (NaN, Inf): structurally valid files whose
// load must fail by name (a shape mismatch) or read the bytes as written.
function semantic(bytes: Buffer, pick: number, mode: 'transpose' | 'data'): Buffer {
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<string, { shape: number[]; data_offsets: [number, number] }>;
  const names = Object.keys(header).filter((k) => k !== '__metadata__');
  const t = header[names[pick % names.length]];
  if (mode === 'data') {
    const out = Buffer.from(bytes);
    const at = 8 + n + t.data_offsets[0];
    if (t.data_offsets[1] > t.data_offsets[0]) out.fill(0xff, at, Math.min(at + 8, 8 + n + t.data_offsets[1]));
    return out;
  }
  t.shape = t.shape.length === 2 && t.shape[0] !== t.shape[1] ? [t.shape[1], t.shape[0]] : [...t.shape, 1];
  const text = Buffer.from(JSON.stringify(header).padEnd(n, ' '));
  const out = Buffer.concat([Buffer.alloc(8), text, bytes.subarray(8 + n)]);
  out.writeBigUInt64LE(BigInt(text.length), 0);
  return out;
}

function structured(bytes: Buffer, path: number[], replacement: unknown, lengthFix: boolean, headerLength: number): Buffer {
  if (kind !== 'safetensors') {
    const json = JSON.parse(bytes.toString('utf8'));
    return Buffer.from(JSON.stringify(setAt(json, path, replacement)));
  }
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
  const text = Buffer.from(JSON.stringify(setAt(header, path, replacement)));
  const out = Buffer.concat([Buffer.alloc(8), text, bytes.subarray(8 + n)]);
  const lengths = [text.length, 0, 1, 7, out.length, text.length + 1, text.length - 1, 2 ** 32, 2 ** 53 - 1];
  out.writeBigUInt64LE(BigInt(lengthFix ? text.length : lengths[headerLength % lengths.length]), 0);
  return out;
}

const bytesArb = fc.record({ kind: fc.constant('bytes' as const), mutations: mutationsArb(300) });
const truncateArb = fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(valid.length) });
// vocab.txt is not JSON: byte-level changes and truncation only.
const caseArb = kind === 'vocab' ? fc.oneof({ weight: 4, arbitrary: bytesArb }, { weight: 1, arbitrary: truncateArb }) : fc.oneof(
  bytesArb,
  fc.record({
    kind: fc.constant('structured' as const),
    path: fc.array(fc.nat(50), { minLength: 1, maxLength: 4 }),
    replacement: fc.constantFrom(...HOSTILE),
    lengthFix: fc.boolean(),
    headerLength: fc.nat(20),
  }),
  truncateArb,
  ...(kind === 'safetensors' ? [fc.record({ kind: fc.constant('semantic' as const), pick: fc.nat(100), mode: fc.constantFrom('transpose' as const, 'data' as const) })] : []),
);
const cases = fc.sample(caseArb, { seed, numRuns: first + count }).slice(first);

const dir = join(validDir, `fuzz-${kind}-${process.pid}`);
await mkdir(dir, { recursive: true });
for (const f of Object.values(FILES)) await copyFile(join(validDir, f), join(dir, f));
const tally = { kind, inputs: 0, loaded: 0, errors: {} as Record<string, number>, unnamed: [] as string[] };

async function load(path: string): Promise<void> {
  if (kind === 'safetensors') {
    await readSafetensors(path);
    // What the reader accepts also goes through the native load into a model.
    (await PreTrainedBert.fromPretrained(dir)).dispose();
  } else if (kind === 'config') await readConfig(dir);
  else if (kind === 'tokenizer') await Tokenizer.fromFile(path);
  else await Tokenizer.fromVocab(path);
}

for (const c of cases) {
  let bytes: Buffer;
  try {
    if (c.kind === 'bytes') bytes = mutate(valid, c.mutations);
    else if (c.kind === 'truncate') bytes = valid.subarray(0, c.at);
    else if (c.kind === 'semantic') bytes = semantic(valid, c.pick, c.mode);
    else bytes = structured(valid, c.path, c.replacement, c.lengthFix, c.headerLength);
  } catch {
    continue; // a structured change the valid file's JSON cannot take
  }
  const path = join(dir, file);
  await writeFile(path, bytes);
  tally.inputs++;
  try {
    await load(path);
    tally.loaded++;
  } catch (error) {
    const e = error as Error & { code?: string; kind?: string };
    const name = `${e.name}${e.code ? `/${e.code}` : ''}${e.kind ? `/${e.kind}` : ''}`;
    tally.errors[name] = (tally.errors[name] ?? 0) + 1;
    // Named: an error class or code of its own, and a message that says which file.
    const named = (e.name !== 'Error' || e.code !== undefined) && typeof e.message === 'string' && (e.message.includes(file) || e.message.includes(dir));
    if (!named && tally.unnamed.length < 50) tally.unnamed.push(`${name}: ${String(e.message).slice(0, 200)}`);
  }
}
await rm(dir, { recursive: true, force: true });
console.log(JSON.stringify(tally));
