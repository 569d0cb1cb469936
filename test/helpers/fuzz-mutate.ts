// Byte-level mutations for the fuzz suites: fast-check arbitraries that take
// a valid file and insert, delete, duplicate or overwrite bytes where a reader
// is most likely to go wrong (delimiters, quotes, tabs, line breaks, CR, a
// BOM, NUL, invalid UTF-8, huge lines, truncation). Seeded and bounded by
// FUZZ_SEED / FUZZ_RUNS so `npm test` stays short and the long run is one
// variable away.

import fc from 'fast-check';

/** Runs per property: short in `npm test`, FUZZ_RUNS for the long run. */
export function fuzzRuns(short: number): number {
  const scale = Number(process.env.FUZZ_RUNS ?? 0);
  return scale > 0 ? Math.max(short, Math.round(scale)) : short;
}

/** fast-check parameters: a fixed seed (FUZZ_SEED overrides) and `runs` runs. */
export function fuzzParams(runs: number): fc.Parameters<unknown> {
  const seed = Number(process.env.FUZZ_SEED ?? 22);
  return { seed, numRuns: fuzzRuns(runs), endOnFailure: true };
}

const enc = (s: string) => Buffer.from(s, 'utf8');

/** Byte strings that break readers: structure, line ends, encodings. */
export const HOSTILE_TOKENS: readonly Buffer[] = [
  enc(','), enc('\t'), enc('"'), enc('""'), enc('\n'), enc('\r'), enc('\r\n'), enc('\n\n'), enc(' '),
  enc('{'), enc('}'), enc(':'), enc('"text"'), enc('[]'), enc('null'), enc('42'), enc('\\'), enc('\\u0000'),
  Buffer.from([0xef, 0xbb, 0xbf]), // BOM
  Buffer.from([0]), // NUL
  Buffer.from([0xff]), Buffer.from([0xc3]), Buffer.from([0xe2, 0x82]), Buffer.from([0xed, 0xa0, 0x80]), // invalid UTF-8
  enc('é'), enc('\u2028'), enc('\u00a0'), enc('O'), enc('B-PER'), enc('I-LOC'), enc('-DOCSTART-'),
];

export type Mutation =
  | { kind: 'insert'; at: number; bytes: Buffer }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'duplicate'; at: number; length: number }
  | { kind: 'overwrite'; at: number; byte: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'hugeLine'; at: number; length: number };

/** One mutation; positions are fractions of the file length, so any file takes any mutation. */
export function mutationArb(hugeLine: number): fc.Arbitrary<Mutation> {
  const at = fc.integer({ min: 0, max: 1_000_000 });
  return fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('insert' as const), at, bytes: fc.constantFrom(...HOSTILE_TOKENS) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), at, length: fc.integer({ min: 1, max: 4 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('duplicate' as const), at, length: fc.integer({ min: 1, max: 12 }) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('overwrite' as const), at, byte: fc.integer({ min: 0, max: 255 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('hugeLine' as const), at, length: fc.integer({ min: hugeLine, max: hugeLine + 64 }) }) },
  );
}

/** 1 to 4 mutations. */
export const mutationsArb = (hugeLine: number) => fc.array(mutationArb(hugeLine), { minLength: 1, maxLength: 4 });

/** `bytes` with the mutations applied in order. */
export function mutate(bytes: Buffer, mutations: readonly Mutation[]): Buffer {
  let out = bytes;
  for (const m of mutations) {
    const at = Math.floor((m.at / 1_000_001) * (out.length + 1));
    switch (m.kind) {
      case 'insert':
        out = Buffer.concat([out.subarray(0, at), m.bytes, out.subarray(at)]);
        break;
      case 'delete':
        out = Buffer.concat([out.subarray(0, at), out.subarray(at + m.length)]);
        break;
      case 'duplicate':
        out = Buffer.concat([out.subarray(0, at + m.length), out.subarray(at, at + m.length), out.subarray(at + m.length)]);
        break;
      case 'overwrite':
        if (at < out.length) {
          out = Buffer.from(out);
          out[at] = m.byte;
        }
        break;
      case 'truncate':
        out = out.subarray(0, at);
        break;
      case 'hugeLine':
        out = Buffer.concat([out.subarray(0, at), Buffer.alloc(m.length, 0x78), out.subarray(at)]);
        break;
    }
  }
  return out;
}

/** Text of a record: printable Unicode with the characters each format must escape or avoid. */
export function textArb(options: { forbid: RegExp }): fc.Arbitrary<string> {
  const pieces = fc.constantFrom('good', 'movie', 'é', '東京', '🙂', ' ', ',', '"', "'", '\\', '{', '}', 'x', 'B-PER', '\u00a0', '0', '\t', '\n', '\r');
  return fc
    .array(pieces, { minLength: 1, maxLength: 8 })
    .map((parts) => parts.join(''))
    .filter((text) => text.trim().length > 0 && !options.forbid.test(text));
}

/** fc.assert that puts the failing check's own message first (fast-check keeps it as the cause). */
export async function assertProperty(property: fc.IAsyncProperty<any>, runs: number): Promise<number> {
  // fc.check, not fc.assert: the number of inputs tried is the caller's assertion.
  const details = await fc.check(property, fuzzParams(runs));
  if (details.failed) {
    const cause = details.errorInstance as Error | undefined;
    throw new Error(`${cause?.message ?? ''}\n${fc.defaultReportMessage(details)}`);
  }
  return details.numRuns;
}

