// Token shard tests on small generated corpora: a round trip through worker
// threads equals direct encoding id for id, the output does not depend on
// the number of workers, random access (get, readRange, blocks) agrees with
// the concatenated stream, another vocabulary is refused, and a failed or
// repeated write never leaves a folder that mixes two shard sets.

import test from 'ava';
import { mkdir, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Tokenizer } from '../lib/tokenizer.js';
import { CorpusError } from '../lib/data/corpus.js';
import { ShardError, ShardReader, writeShards, type WriteShardsOptions } from '../lib/data/shards.js';

let root = '';
let counter = 0;
let tokenizer: Tokenizer;
let vocabPath = '';

const words = ['the', 'quick', 'brown', 'fox', 'jumps', 'over', 'lazy', 'dog', 'hello', 'world', 'play', 'run', 'walk', 'talk'];
const letters = 'abcdefghijklmnopqrstuvwxyz0123456789'.split('');
const testVocab = [
  '[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', '.', ',', '!', '?', "'",
  ...letters, ...letters.map((c) => `##${c}`), ...words, '##ing', '##ed', '##er',
];

// Deterministic sentences mixing known words, pieces, unknown characters and punctuation.
function sentences(count: number, seed = 1): string[] {
  let state = seed;
  const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) >>> 8;
  const pool = [...words, 'playing', 'walked', 'talkers', 'zebra', 'Über', 'naïve', '東京', 'x1', 'hello,', 'world!'];
  return Array.from({ length: count }, () => Array.from({ length: 1 + (next() % 30) }, () => pool[next() % pool.length]).join(' '));
}

test.before(async () => {
  root = await mkdtemp(join(tmpdir(), 'bertorch-shards-test-'));
  vocabPath = join(root, 'vocab.txt');
  await writeFile(vocabPath, testVocab.join('\n') + '\n');
  tokenizer = await Tokenizer.fromVocab(vocabPath);
});

test.after.always(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

const fresh = () => join(root, `case-${++counter}`);

async function write(options: Partial<WriteShardsOptions>) {
  const outDir = options.outDir ?? fresh();
  const summary = await writeShards({ tokenizer, outDir, workers: 2, chunkSize: 16, progress: false, ...options } as WriteShardsOptions);
  return { outDir, summary };
}

async function allIds(texts: string[]): Promise<Int32Array[]> {
  return (await tokenizer.encodeBatch(texts)).map((e) => e.inputIds);
}

test('shards round-trip: every example equals a direct encode, across shard boundaries', async (t) => {
  const texts = sentences(400);
  const { outDir, summary } = await write({ texts, shardTokens: 1000 });
  const expected = await allIds(texts);
  const tokens = expected.reduce((sum, ids) => sum + ids.length, 0);
  t.like(summary.meta, { formatVersion: 1, vocabSize: testVocab.length, idDtype: 'uint16', numExamples: 400, numTokens: tokens, addSpecialTokens: true });
  t.is(summary.meta.vocabHash, tokenizer.vocabHash());
  t.true(summary.meta.shards.length > 3);
  const longest = Math.max(...expected.map((ids) => ids.length));
  for (const shard of summary.meta.shards.slice(0, -1)) t.true(shard.numTokens >= 1000 && shard.numTokens < 1000 + longest);
  const meta = JSON.parse(await readFile(join(outDir, 'meta.json'), 'utf8'));
  t.deepEqual(meta, summary.meta);
  const reader = await ShardReader.open(outDir, { tokenizer });
  t.is(reader.length, 400);
  t.is(reader.numTokens, tokens);
  for (let i = 0; i < texts.length; i++) t.deepEqual(reader.get(i), expected[i], `example ${i}`);
  t.is(reader.lengthOf(7), expected[7].length);
  reader.close();
});

test('the files on disk are little-endian ids and uint64 offsets as meta.json lists them', async (t) => {
  const texts = ['hello world', 'the fox'];
  const { outDir } = await write({ texts });
  t.deepEqual((await readdir(outDir)).sort(), ['00000.bin', '00000.idx', 'meta.json']);
  const bin = await readFile(join(outDir, '00000.bin'));
  const idx = await readFile(join(outDir, '00000.idx'));
  const expected = await allIds(texts);
  t.deepEqual([...bin].length, 2 * (expected[0].length + expected[1].length));
  t.is(bin.readUInt16LE(2), expected[0][1]);
  t.deepEqual([0, 1, 2].map((k) => Number(idx.readBigUInt64LE(8 * k))), [0, expected[0].length, expected[0].length + expected[1].length]);
});

test('the output is the same for any number of workers and chunk size', async (t) => {
  const texts = sentences(300, 7);
  const one = await write({ texts, workers: 1, chunkSize: 1000, shardTokens: 800 });
  const three = await write({ texts, workers: 3, chunkSize: 7, shardTokens: 800 });
  const names = (await readdir(one.outDir)).sort();
  t.deepEqual((await readdir(three.outDir)).sort(), names);
  for (const name of names) t.deepEqual(await readFile(join(three.outDir, name)), await readFile(join(one.outDir, name)), name);
});

test('files (plain and gzipped) give the same shards as texts; blank lines are left out and counted', async (t) => {
  const texts = sentences(120, 3);
  const dir = fresh();
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'a.txt'), texts.slice(0, 60).join('\n') + '\n\n   \n');
  await writeFile(join(dir, 'b.txt.gz'), gzipSync(texts.slice(60).join('\r\n')));
  const fromFiles = await write({ files: [join(dir, 'a.txt'), join(dir, 'b.txt.gz')] });
  const fromTexts = await write({ texts: (async function* () { yield* texts; })() });
  t.is(fromFiles.summary.blank, 2);
  t.deepEqual(await readFile(join(fromFiles.outDir, '00000.bin')), await readFile(join(fromTexts.outDir, '00000.bin')));
  t.deepEqual(fromFiles.summary.meta, fromTexts.summary.meta);
});

test('a tokenizer folder or vocab path works as well as a Tokenizer, and idDtype can be uint32', async (t) => {
  const dir = fresh();
  await tokenizer.save(join(dir, 'tok'));
  const texts = sentences(50, 5);
  const a = await write({ texts, tokenizer: join(dir, 'tok') });
  const b = await write({ texts, tokenizer: vocabPath, idDtype: 'uint32' });
  t.is(b.summary.meta.idDtype, 'uint32');
  const ra = await ShardReader.open(a.outDir);
  const rb = await ShardReader.open(b.outDir);
  for (let i = 0; i < texts.length; i++) t.deepEqual(rb.get(i), ra.get(i));
  t.deepEqual(rb.readRange(0, 5).ids.constructor, Uint32Array);
  ra.close();
  rb.close();
});

test('a vocabulary of 65536 tokens or more is stored as uint32 by default', async (t) => {
  const big = join(root, 'big-vocab.txt');
  const extra = Array.from({ length: 66000 }, (_, i) => `w${i}`);
  await writeFile(big, [...testVocab, ...extra].join('\n') + '\n');
  const bigTokenizer = await Tokenizer.fromVocab(big);
  const texts = ['w65999 w1 hello', 'w65000'];
  const { outDir, summary } = await write({ texts, tokenizer: bigTokenizer });
  t.is(summary.meta.idDtype, 'uint32');
  const reader = await ShardReader.open(outDir, { tokenizer: bigTokenizer });
  t.deepEqual(reader.get(0), (await bigTokenizer.encode(texts[0])).inputIds);
  t.true(reader.get(0)[1] > 65535);
  reader.close();
  await t.throwsAsync(write({ texts, tokenizer: bigTokenizer, idDtype: 'uint16' }), { instanceOf: RangeError, message: /for idDtype/ });
});

test('shards written with another vocabulary are refused with both hashes in the message', async (t) => {
  const { outDir } = await write({ texts: sentences(10) });
  const otherPath = join(root, 'other-vocab.txt');
  await writeFile(otherPath, [...testVocab.slice(0, -1), '##est'].join('\n') + '\n');
  const other = await Tokenizer.fromVocab(otherPath);
  const error = await t.throwsAsync(ShardReader.open(outDir, { tokenizer: other }), { instanceOf: ShardError });
  t.is(error?.code, 'ERR_SHARD_VOCAB');
  t.true(error!.message.includes(tokenizer.vocabHash()));
  t.true(error!.message.includes(other.vocabHash()));
  await t.throwsAsync(ShardReader.open(outDir, { vocabHash: 'abc' }), { instanceOf: ShardError, message: /abc/ });
  t.notThrows(() => ShardReader.open(outDir, { vocabHash: tokenizer.vocabHash() }));
});

test('readRange reads many examples at once, also across shards', async (t) => {
  const texts = sentences(200, 11);
  const { outDir } = await write({ texts, shardTokens: 500 });
  const reader = await ShardReader.open(outDir);
  const expected = await allIds(texts);
  for (const [start, end] of [[0, 200], [3, 4], [37, 161], [199, 200], [5, 5]]) {
    const { ids, offsets } = reader.readRange(start, end);
    t.is(offsets.length, end - start + 1);
    for (let i = start; i < end; i++) t.deepEqual(Int32Array.from(ids.subarray(offsets[i - start], offsets[i - start + 1])), expected[i]);
    t.is(offsets[end - start], ids.length);
  }
  t.throws(() => reader.readRange(5, 201), { instanceOf: RangeError });
  t.throws(() => reader.get(200), { instanceOf: RangeError });
  reader.close();
});

test('blocks concatenate the examples and cut them into fixed lengths, dropping the remainder', async (t) => {
  const texts = sentences(150, 13);
  const { outDir } = await write({ texts, shardTokens: 300 });
  const reader = await ShardReader.open(outDir);
  const stream = (await allIds(texts)).flatMap((ids) => [...ids]);
  for (const size of [1, 7, 64, 300]) {
    const blocks = reader.blocks(size);
    t.is(blocks.length, Math.floor(stream.length / size));
    for (const j of [0, 1, Math.floor(blocks.length / 2), blocks.length - 1]) {
      t.deepEqual([...blocks.get(j)], stream.slice(j * size, (j + 1) * size), `block ${j} of ${size}`);
    }
  }
  t.deepEqual([...reader.readTokens(250, 650)], stream.slice(250, 650));
  t.throws(() => reader.blocks(64).get(reader.blocks(64).length), { instanceOf: RangeError });
  t.throws(() => reader.blocks(0), { instanceOf: RangeError });
  reader.close();
});

test('writing again replaces the old shard set and leaves no staging files', async (t) => {
  const outDir = fresh();
  await write({ outDir, texts: sentences(300), shardTokens: 200 });
  const many = (await readdir(outDir)).length;
  const { summary } = await write({ outDir, texts: sentences(20), shardTokens: 200 });
  const names = (await readdir(outDir)).sort();
  t.true(names.length < many);
  t.deepEqual(names, ['meta.json', ...summary.meta.shards.flatMap((s) => [s.bin, s.idx])].sort());
  const reader = await ShardReader.open(outDir);
  t.is(reader.length, 20);
  reader.close();
});

test('a bad line in a file is an error naming file and line and leaves the old shards intact, or is skipped', async (t) => {
  const outDir = fresh();
  await write({ outDir, texts: ['hello world'] });
  const file = join(root, `bad-${++counter}.txt`);
  await writeFile(file, Buffer.concat([Buffer.from('hello\nthe fox\n'), Buffer.from([0x61, 0xff, 0x0a]), Buffer.from('world\n')]));
  const error = await t.throwsAsync(write({ outDir, files: [file] }), { instanceOf: CorpusError });
  t.true(error!.message.startsWith(`${file}:3: invalid UTF-8`));
  t.deepEqual((await readdir(outDir)).sort(), ['00000.bin', '00000.idx', 'meta.json']);
  t.is((await ShardReader.open(outDir)).length, 1);
  const { summary } = await write({ outDir, files: [file], onBadRow: 'skip' });
  t.is(summary.badRows, 1);
  t.is(summary.meta.numExamples, 3);
});

test('a folder without meta.json, or with a shard of the wrong size, is refused', async (t) => {
  const empty = fresh();
  await mkdir(empty);
  const missing = await t.throwsAsync(ShardReader.open(empty), { instanceOf: ShardError });
  t.is(missing?.code, 'ERR_SHARD_FORMAT');
  const { outDir } = await write({ texts: sentences(10) });
  await truncate(join(outDir, '00000.bin'), 10);
  await t.throwsAsync(ShardReader.open(outDir), { instanceOf: ShardError, message: /00000\.bin has 10 bytes/ });
});

test('a damaged .idx (offsets past the shard or going back) is an error naming the file', async (t) => {
  const { outDir } = await write({ texts: sentences(10) });
  const idx = join(outDir, '00000.idx');
  const good = await readFile(idx);
  const past = Buffer.from(good);
  past.writeBigUInt64LE(1n << 40n, 3 * 8);  // example 2 ends, and 3 starts, far past the tokens
  await writeFile(idx, past);
  const reader = await ShardReader.open(outDir);
  t.throws(() => reader.get(2), { instanceOf: ShardError, message: new RegExp(`${idx.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: offset 1099511627776 of example 3 is past the shard's \\d+ tokens`) });
  reader.close();
  const back = Buffer.from(good);
  back.writeBigUInt64LE(0n, 6 * 8);  // example 5 ends before it starts
  await writeFile(idx, back);
  const reader2 = await ShardReader.open(outDir);
  t.throws(() => reader2.get(5), { instanceOf: ShardError, message: /00000\.idx: offset 0 of example 6 is before the previous one/ });
  t.deepEqual([...reader2.get(0)], [...(await ShardReader.open(outDir)).get(0)]);  // undamaged examples still read
  reader2.close();
});

test('bad options throw TypeError or RangeError naming the option', async (t) => {
  await t.throwsAsync(writeShards({ tokenizer, outDir: fresh() } as WriteShardsOptions), { instanceOf: TypeError, message: /either texts or files/ });
  await t.throwsAsync(writeShards({ texts: [], files: ['x'], tokenizer, outDir: fresh() }), { instanceOf: TypeError, message: /either texts or files/ });
  await t.throwsAsync(writeShards({ files: [join(root, 'nope.txt')], tokenizer, outDir: fresh() }), { instanceOf: TypeError, message: /files\[0\]/ });
  await t.throwsAsync(writeShards({ texts: [], tokenizer: join(root, 'nope'), outDir: fresh() }), { instanceOf: TypeError, message: /for tokenizer/ });
  await t.throwsAsync(writeShards({ texts: [], tokenizer, outDir: fresh(), shardTokens: 0 }), { instanceOf: RangeError, message: /for shardTokens/ });
  await t.throwsAsync(writeShards({ texts: [], tokenizer, outDir: fresh(), idDtype: 'int8' as never }), { instanceOf: RangeError, message: /for idDtype/ });
  await t.throwsAsync(writeShards({ texts: [42 as never], tokenizer, outDir: fresh(), progress: false }), { instanceOf: TypeError, message: /texts\[0\]/ });
});
