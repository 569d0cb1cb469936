// Tokenizer tests. The contract is transformers: a vocabulary trained here and
// saved is loaded by Python's AutoTokenizer (scripts/fixtures/make-tokenizer-
// reference.py), and both encode the same hard strings to the same ids, token
// types, masks, offsets and word ids. Python comes from BERTORCH_PYTHON or the
// repository's .venv; only if it or transformers cannot be imported are those
// comparisons skipped, with a message saying so.

import test from 'ava';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect, promisify } from 'node:util';
import { gzip } from 'node:zlib';
import tokenizers from 'tokenizers';
import { Tokenizer, trainWordPiece, type EncodeOptions, type Encoding } from '../lib/tokenizer.js';
import { bertWords } from '../lib/tokenizer/train.js';
import { PYTHON, pythonGate } from './helpers/python.js';

const root = new URL('..', import.meta.url).pathname;
const fixtureDir = join(root, 'test/fixtures/bert-tiny-parity/checkpoint');
const referenceScript = join(root, 'scripts/fixtures/make-tokenizer-reference.py');

// The transformers comparisons: skipped with the reason without Python +
// transformers, a failing test under CI (pythonGate).
const gate = pythonGate(['transformers', 'tokenizers']);
const missingPython = !gate.available;

// Deterministic text with the shapes a WordPiece trainer must cope with.
function* corpusLines(count: number): Generator<string> {
  const words = [
    'the', 'quick', 'brown', 'fox', 'jumps', 'over', 'lazy', 'dog', 'tokenization', 'unbelievable',
    'Café', 'naïve', 'façade', 'Ångström', 'résumé', 'über', 'Straße', '东京', '日本語', '中文', '한국어',
    '😀', '🤗', 'emoji', 'hello,', 'world!', 'don\'t', '(parenthesis)', '3.14159', '2024-06-01', 'e-mail',
    'running', 'runner', 'runs', 'played', 'playing', 'player', 'transformer', 'transformers', 'Node.js',
  ];
  let state = 12345;
  const next = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state >>> 8;
  };
  for (let i = 0; i < count; i++) {
    const length = 4 + (next() % 12);
    yield Array.from({ length }, () => words[next() % words.length]).join(' ');
  }
}

const hardStrings = [
  'Hello, World!',
  'The quick brown fox jumps over the lazy dog.',
  'Café naïve façade Ångström résumé ÀÉÎÕÜ',
  'ﬁ ligature Ⅻ ｆｕｌｌｗｉｄｔｈ ① ²',
  'e\u0301 a\u0308 combining marks',
  '東京タワーは日本の電波塔です。中文测试 한국어 텍스트',
  'I ❤️ 🤗 and 👨‍👩‍👧‍👦 family 😀😀 𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
  '!!!??...---,,,;;;:::""\'\'((([[[{{{ $$$%%%^^^&&&***',
  'a'.repeat(500),
  'ab'.repeat(50),
  'ab'.repeat(50) + 'c',
  '',
  '   \t\n  ',
  'a\u0000b\u0007c\u200bd\ufeffe\ufffdf',
  'مرحبا بالعالم שלום สวัสดีครับ',
  '[CLS] [SEP] [MASK] hello [PAD] [UNK] [mask]',
  'unbelievable transformers tokenization running players',
  '3.14159 1,000,000 2024-06-01 e-mail Node.js',
];

const longA = 'the quick brown fox jumps over the lazy dog again and again until it tires';
const longB = 'tokenization of café and 東京 with emoji 😀 keeps going and going';

const cases: Array<{ text: string; pair?: string } & EncodeOptions> = [
  ...hardStrings.map((text) => ({ text })),
  ...hardStrings.map((text) => ({ text, pair: 'Straße über 😀 the dog' })),
  { text: longA, pair: longB, maxLength: 16, truncation: 'longest_first' },
  { text: longA, pair: longB, maxLength: 16, truncation: true, padding: 'max_length' },
  { text: longA, pair: longB, maxLength: 20, truncation: 'only_second' },
  { text: 'short', pair: longB, maxLength: 9, truncation: 'only_second', padding: 'max_length' },
  { text: longA, maxLength: 8, truncation: true },
  { text: longA, maxLength: 40, padding: 'max_length' },
  { text: longA, pair: longB, maxLength: 12, truncation: true, addSpecialTokens: false },
  { text: longB, maxLength: 10, truncation: 'longest_first', padding: 'longest' },
  { text: 'a'.repeat(500), pair: 'b'.repeat(300), maxLength: 6, truncation: true },
  { text: '', pair: '', maxLength: 8, padding: 'max_length' },
];

const batches: Array<{ texts: string[]; pairs?: string[]; options: EncodeOptions }> = [
  { texts: ['short one', longA, '', '😀 emoji'], options: { padding: 'longest' } },
  { texts: [longA, longB, 'x'], options: { padding: 'max_length', maxLength: 12, truncation: true } },
  { texts: ['question one?', 'second question'], pairs: [longB, 'an answer'], options: { padding: true, truncation: 'only_second', maxLength: 14 } },
];

interface PyEncoding {
  input_ids: number[];
  token_type_ids: number[];
  attention_mask: number[];
  special_tokens_mask: number[];
  offsets: Array<[number, number]>;
  word_ids: Array<number | null>;
  sequence_ids: Array<number | null>;
  tokens: string[];
  error?: string;
}
interface PyTokenizer {
  class: string;
  vocab: string[];
  specialIds: Record<string, number>;
  cases: PyEncoding[];
  batches: Array<PyEncoding[] | { error: string }>;
  decode: string[];
}

type Shared = { dir: string; tokenizers: Record<string, Tokenizer>; decodeIds: Array<{ ids: number[]; skipSpecialTokens: boolean }>; reference?: Record<string, PyTokenizer> };
const shared = {} as Shared;

test.before(async () => {
  shared.dir = await mkdtemp(join(tmpdir(), 'bertorch-tokenizer-test-'));
  const uncased = await trainWordPiece({ iterator: corpusLines(3000), vocabSize: 400 });
  const cased = await trainWordPiece({ iterator: corpusLines(3000), vocabSize: 300, lowercase: false, handleChineseChars: false });
  await uncased.save(join(shared.dir, 'uncased'));
  await cased.save(join(shared.dir, 'cased'));
  shared.tokenizers = {
    uncased: await Tokenizer.fromPretrained(join(shared.dir, 'uncased')),
    cased: await Tokenizer.fromPretrained(join(shared.dir, 'cased')),
    fixture: await Tokenizer.fromPretrained(fixtureDir),
  };
  shared.decodeIds = [];
  for (const text of hardStrings.slice(0, 8)) {
    const ids = [...(await shared.tokenizers.uncased.encode(text, 'the dog.')).inputIds];
    shared.decodeIds.push({ ids, skipSpecialTokens: false }, { ids, skipSpecialTokens: true });
  }
  if (missingPython) return;
  const request = {
    tokenizers: { uncased: join(shared.dir, 'uncased'), cased: join(shared.dir, 'cased'), fixture: fixtureDir },
    cases: cases.map((c) => ({ pair: null, ...c })),
    batches,
    decode: shared.decodeIds,
  };
  await writeFile(join(shared.dir, 'request.json'), JSON.stringify(request));
  const run = spawnSync(PYTHON, [referenceScript, join(shared.dir, 'request.json'), join(shared.dir, 'response.json')], {
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`${referenceScript} failed: ${run.stderr}`);
  shared.reference = JSON.parse(await readFile(join(shared.dir, 'response.json'), 'utf8'));
});

test.after.always(async () => {
  if (shared.dir) await rm(shared.dir, { recursive: true, force: true });
});

function plain(e: Encoding): Omit<PyEncoding, 'error'> {
  return {
    input_ids: [...e.inputIds],
    token_type_ids: [...e.tokenTypeIds],
    attention_mask: [...e.attentionMask],
    special_tokens_mask: [...e.specialTokensMask],
    offsets: e.offsets,
    word_ids: e.wordIds,
    sequence_ids: e.sequenceIds,
    tokens: e.tokens,
  };
}

const parity = gate.test;

for (const name of ['uncased', 'cased', 'fixture']) {
  parity(`the ${name} tokenizer encodes every hard string and pair exactly as transformers does`, async (t) => {
    const tok = shared.tokenizers[name];
    const ref = shared.reference![name];
    t.is(ref.class, 'BertTokenizerFast');
    t.deepEqual([...tok.vocab], ref.vocab);
    t.deepEqual({ ...tok.specialTokenIds }, ref.specialIds);
    for (const [i, c] of cases.entries()) {
      const { text, pair, ...options } = c;
      const expected = ref.cases[i];
      const label = `case ${i}: ${JSON.stringify(c).slice(0, 120)}`;
      if (expected.error) {
        await t.throwsAsync(tok.encode(text, pair, options), { instanceOf: RangeError }, label);
        continue;
      }
      t.deepEqual(plain(await tok.encode(text, pair, options)), expected, label);
    }
  });

  parity(`the ${name} tokenizer pads and truncates batches exactly as transformers does`, async (t) => {
    const tok = shared.tokenizers[name];
    for (const [i, batch] of batches.entries()) {
      const inputs = batch.pairs ? batch.texts.map((text, j) => [text, batch.pairs![j]] as [string, string]) : batch.texts;
      const expected = shared.reference![name].batches[i];
      t.false('error' in expected, `batch ${i} failed in Python`);
      t.deepEqual((await tok.encodeBatch(inputs, batch.options)).map(plain), expected, `batch ${i}`);
    }
  });
}

parity('decode gives the text transformers decodes, with and without special tokens', async (t) => {
  const tok = shared.tokenizers.uncased;
  for (const [i, { ids, skipSpecialTokens }] of shared.decodeIds.entries()) {
    t.is(await tok.decode(ids, { skipSpecialTokens }), shared.reference!.uncased.decode[i], `decode ${i}`);
  }
});

test('the shared fixture vocabulary loads with BERT special tokens at ids 0 to 4', async (t) => {
  const path = join(fixtureDir, 'vocab.txt');
  const tok = await Tokenizer.fromVocab(path);
  t.is(tok.vocabSize, 512);
  t.deepEqual({ ...tok.specialTokenIds }, { pad: 0, unk: 1, cls: 2, sep: 3, mask: 4 });
  t.is(tok.vocabHash(), createHash('sha256').update(await readFile(path)).digest('hex'));
  const enc = await tok.encode('babax babix', 'bagux');
  t.deepEqual([...enc.inputIds], [2, tok.tokenToId('babax')!, tok.tokenToId('babix')!, 3, tok.tokenToId('bagux')!, 3]);
  t.deepEqual([...enc.tokenTypeIds], [0, 0, 0, 0, 1, 1]);
  t.is(tok.idToToken(5), 'babax');
  t.is(tok.modelMaxLength, 512);
});

test('padding to a maxLength that cannot fit in memory is a RangeError, not an abort', async (t) => {
  // The tokenizers package pads in Rust; a failed 51 GB allocation there aborted the process.
  const tok = await Tokenizer.fromVocab(join(fixtureDir, 'vocab.txt'));
  const texts = Array.from({ length: 64 }, () => 'babax');
  await t.throwsAsync(() => tok.encodeBatch(texts, { maxLength: 2 ** 31 - 1, padding: 'max_length' }),
    { instanceOf: RangeError, message: /padding of 64 text\(s\) fits in the .* GB of memory this process may use for maxLength but received 2147483647/ });
  const ok = await tok.encode('babax', undefined, { maxLength: 8, padding: 'max_length' });
  t.is(ok.inputIds.length, 8);
});

test('a saved tokenizer has the four HuggingFace files and its vocabHash is the sha256 of vocab.txt', async (t) => {
  const dir = join(shared.dir, 'uncased');
  const tok = shared.tokenizers.uncased;
  const vocabText = await readFile(join(dir, 'vocab.txt'));
  t.is(tok.vocabHash(), createHash('sha256').update(vocabText).digest('hex'));
  t.deepEqual(vocabText.toString('utf8').split('\n').slice(0, -1), [...tok.vocab]);
  const config = JSON.parse(await readFile(join(dir, 'tokenizer_config.json'), 'utf8'));
  t.like(config, { do_lower_case: true, strip_accents: null, tokenize_chinese_chars: true, model_max_length: 512, cls_token: '[CLS]' });
  const map = JSON.parse(await readFile(join(dir, 'special_tokens_map.json'), 'utf8'));
  t.deepEqual(map, { cls_token: '[CLS]', mask_token: '[MASK]', pad_token: '[PAD]', sep_token: '[SEP]', unk_token: '[UNK]' });
  const fromJson = await Tokenizer.fromFile(join(dir, 'tokenizer.json'));
  t.is(fromJson.vocabHash(), tok.vocabHash());
  const fromVocab = await Tokenizer.fromVocab(join(dir, 'vocab.txt'));
  t.deepEqual([...(await fromVocab.encode(hardStrings[2])).inputIds], [...(await tok.encode(hardStrings[2])).inputIds]);
});

test('fromPretrained applies the cased switches written by save', async (t) => {
  const tok = shared.tokenizers.cased;
  t.deepEqual({ ...tok.normalizer }, { lowercase: false, stripAccents: null, handleChineseChars: false });
  const enc = await tok.encode('Café CAFÉ');
  t.notDeepEqual(enc.tokens.slice(1, -1).join(' ').toLowerCase(), enc.tokens.slice(1, -1).join(' '));
});

test('trainWordPiece puts the special tokens first and stops at vocabSize', async (t) => {
  const tok = await trainWordPiece({ iterator: corpusLines(500), vocabSize: 150, specialTokens: ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', '[EXTRA]'] });
  t.deepEqual(tok.vocab.slice(0, 6), ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', '[EXTRA]']);
  t.is(tok.vocabSize, 150);
  t.deepEqual(tok.additionalSpecialTokens, ['[EXTRA]']);
  const enc = await tok.encode('the [EXTRA] dog');
  // An added special token in the text stays whole; like transformers, the
  // special-tokens mask only marks the [CLS]/[SEP] the template adds.
  t.true(enc.tokens.includes('[EXTRA]'));
});

test('a larger vocabSize extends the smaller vocabulary in the same order', async (t) => {
  const small = await trainWordPiece({ iterator: corpusLines(500), vocabSize: 120, minFrequency: 0 });
  const large = await trainWordPiece({ iterator: corpusLines(500), vocabSize: 200, minFrequency: 0 });
  t.deepEqual(large.vocab.slice(0, 120), [...small.vocab]);
});

test('minFrequency stops merging at pairs rarer than the threshold but keeps every character', async (t) => {
  const lines = ['aaa bbb', 'aaa bbb', 'aaa bbb', 'aaa ccc', 'zyx'];
  const all = await trainWordPiece({ iterator: lines, vocabSize: 100, minFrequency: 0 });
  const frequent = await trainWordPiece({ iterator: lines, vocabSize: 100, minFrequency: 2 });
  t.true(all.vocab.includes('ccc'));
  t.true(all.vocab.includes('zyx'));
  t.false(frequent.vocab.includes('ccc'));
  t.false(frequent.vocab.includes('zyx'));
  t.true(frequent.vocab.includes('aaa'));
  t.true(frequent.vocab.includes('bbb'));
  for (const ch of ['a', 'b', 'c', 'x', 'y', 'z', '##a', '##c', '##x']) t.true(frequent.vocab.includes(ch), ch);
});

test('training is deterministic and does not depend on the order of the lines', async (t) => {
  const lines = [...corpusLines(800)];
  const first = await trainWordPiece({ iterator: lines, vocabSize: 300 });
  const again = await trainWordPiece({ iterator: lines, vocabSize: 300 });
  const reversed = await trainWordPiece({ iterator: [...lines].reverse(), vocabSize: 300 });
  t.deepEqual([...again.vocab], [...first.vocab]);
  t.deepEqual([...reversed.vocab], [...first.vocab]);
});

test('limitAlphabet keeps only the most frequent characters', async (t) => {
  const tok = await trainWordPiece({ iterator: ['aaaa bbb cc d'], vocabSize: 50, limitAlphabet: 2, minFrequency: 0 });
  t.deepEqual(tok.vocab.slice(5, 7), ['a', 'b']);
  t.false(tok.vocab.includes('c'));
  t.false(tok.vocab.includes('d'));
});

test('the training word splitter agrees with the package pre-tokenizer', (t) => {
  const preTokenizer = tokenizers.bertPreTokenizer();
  for (const options of [{}, { lowercase: false, handleChineseChars: false }, { cleanText: false }]) {
    const normalizer = tokenizers.bertNormalizer(options);
    for (const text of [...hardStrings, ...corpusLines(50), 'a\u0085b\u00a0c\u3000d ¿qué? «q» ‐–—… ‘’“” _~|^`']) {
      const normalized = normalizer.normalizeString(text);
      t.deepEqual(bertWords(normalized), preTokenizer.preTokenizeString(normalized).map(([word]) => word), text);
    }
  }
});

test('trainWordPiece reads plain and gzipped files and an async iterator', async (t) => {
  const lines = [...corpusLines(300)];
  const plainPath = join(shared.dir, 'train.txt');
  const gzPath = join(shared.dir, 'train.txt.gz');
  await writeFile(plainPath, lines.join('\n'));
  await writeFile(gzPath, await promisify(gzip)(lines.join('\n')));
  async function* asyncLines() {
    yield* lines;
  }
  const fromPlain = await trainWordPiece({ files: [plainPath], vocabSize: 200 });
  const fromGz = await trainWordPiece({ files: [gzPath], vocabSize: 200 });
  const fromIterator = await trainWordPiece({ iterator: asyncLines(), vocabSize: 200 });
  t.is(fromGz.vocabHash(), fromPlain.vocabHash());
  t.is(fromIterator.vocabHash(), fromPlain.vocabHash());
});

test('offsets are UTF-16 positions that slice the input string', async (t) => {
  const tok = shared.tokenizers.uncased;
  const text = '😀 the 𝔘 dog 🤗 fox';
  const enc = await tok.encode(text);
  const pieces = enc.offsets.map(([s, e], i) => (enc.sequenceIds[i] === null ? null : text.slice(s, e)));
  t.deepEqual(pieces.filter((p) => p !== null && p !== ''), ['😀', 'the', '𝔘', 'dog', '🤗', 'fox']);
});

test('concurrent encodes with different truncation settings do not affect each other', async (t) => {
  const tok = shared.tokenizers.uncased;
  const lengths = [5, 7, 9, 11, 13, 15];
  const encodings = await Promise.all(lengths.map((maxLength) => tok.encode(longA, { maxLength, truncation: true })));
  t.deepEqual(encodings.map((e) => e.inputIds.length), lengths);
  t.is((await tok.encode(longA)).inputIds.length > 15, true);
});

test('bad arguments throw TypeError or RangeError naming the argument', async (t) => {
  const tok = shared.tokenizers.uncased;
  await t.throwsAsync(tok.encode(42 as unknown as string), { instanceOf: TypeError, message: 'Expected a string for text but received 42' });
  await t.throwsAsync(tok.encode('a', 7 as unknown as string), { instanceOf: TypeError, message: /for pair but received 7/ });
  await t.throwsAsync(tok.encode('a', { maxLength: 0, truncation: true }), { instanceOf: RangeError, message: /for maxLength but received 0/ });
  await t.throwsAsync(tok.encode('a', { truncation: 'only_first' as never }), { instanceOf: RangeError, message: /for truncation but received "only_first"/ });
  await t.throwsAsync(tok.encode('a', { padding: 'max' as never }), { instanceOf: RangeError, message: /for padding/ });
  await t.throwsAsync(tok.encodeBatch('a' as never), { instanceOf: TypeError, message: /for inputs but received "a"/ });
  await t.throwsAsync(tok.encodeBatch([['a']] as never), { instanceOf: TypeError, message: /for inputs\[0\]/ });
  await t.throwsAsync(tok.decode([1, -2]), { instanceOf: TypeError, message: /for ids/ });
  await t.throwsAsync(tok.encode('a', 'b', { maxLength: 2, truncation: true }), { instanceOf: RangeError, message: 'Expected a maxLength of at least 3 (the special tokens) for maxLength but received 2' });
  await t.throwsAsync(tok.encode('a b c', 'd', { maxLength: 5, truncation: 'only_second' }), { instanceOf: RangeError, message: /second text of more than 2 tokens for truncation 'only_second' but received one of 1 tokens/ });
  await t.throwsAsync(tok.encode('a b c d e', { maxLength: 4, truncation: 'only_second' }), { instanceOf: RangeError, message: /for pair but received undefined/ });
  const unlimited = shared.tokenizers.fixture;
  await t.throwsAsync(unlimited.encode('a', { padding: 'max_length' }), { instanceOf: RangeError, message: /padding 'max_length'/ });
  await t.throwsAsync(trainWordPiece({} as never), { instanceOf: TypeError, message: /Expected files or iterator/ });
  await t.throwsAsync(trainWordPiece({ iterator: ['a'], vocabSize: 3 }), { instanceOf: RangeError, message: /for vocabSize but received 3/ });
  await t.throwsAsync(trainWordPiece({ iterator: ['a'], specialTokens: ['[PAD]'] }), { instanceOf: TypeError, message: /including \[UNK\]/ });
  await t.throwsAsync(trainWordPiece({ files: [join(shared.dir, 'missing.txt')] }), { instanceOf: TypeError, message: /an existing file for files\[0\]/ });
  await t.throwsAsync(Tokenizer.fromPretrained(join(shared.dir, 'nowhere')), { instanceOf: TypeError, message: /tokenizer.json or vocab.txt/ });
  await t.throwsAsync(Tokenizer.fromFile(join(fixtureDir, 'config.json')), { instanceOf: TypeError, message: /WordPiece/ });
  const dupPath = join(shared.dir, 'dup-vocab.txt');
  await writeFile(dupPath, '[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\na\n');
  await t.throwsAsync(Tokenizer.fromVocab(dupPath), { instanceOf: TypeError, message: /lines 6 and 7/ });
});

// Fields past inputIds are read from the package on first access (the cost of
// an encoding is mostly those calls): the object must still act as a plain one.
test('an Encoding acts as a plain object: spread, JSON, structuredClone and assignment see every field', async (t) => {
  const tok = await Tokenizer.fromPretrained(fixtureDir);
  const [a, b] = await tok.encodeBatch(['hello world 😀', ['a pair', 'of texts']], { padding: 'longest' });
  const keys = ['inputIds', 'tokenTypeIds', 'attentionMask', 'specialTokensMask', 'offsets', 'wordIds', 'sequenceIds', 'tokens'];
  t.deepEqual(Object.keys(a), keys);
  const printed = inspect((await tok.encodeBatch(['hello']))[0]);
  t.regex(printed, /tokens: \[/);
  t.notRegex(printed, /Getter/);
  const spread = { ...b };
  const cloned = structuredClone(b);
  const json = JSON.parse(JSON.stringify(b));
  for (const k of keys as (keyof Encoding)[]) {
    t.deepEqual(spread[k], b[k], `spread ${k}`);
    t.deepEqual(cloned[k], b[k], `structuredClone ${k}`);
    t.deepEqual(json[k], ArrayBuffer.isView(b[k]) ? { ...(b[k] as Int32Array) } : b[k], `JSON ${k}`);
  }
  // The lazily mapped offsets are UTF-16: the emoji (outside the BMP) slices whole.
  const last = a.sequenceIds.lastIndexOf(0);
  t.is('hello world 😀'.slice(...a.offsets[last]), '😀');
  a.tokens = ['x'];
  t.deepEqual(a.tokens, ['x']);
  const fresh = (await tok.encodeBatch(['hello world 😀']))[0];
  fresh.wordIds = [];  // assigned before it was ever read
  t.deepEqual(fresh.wordIds, []);
  const frozen = Object.freeze((await tok.encodeBatch(['hello world 😀']))[0]);
  const reference = (await tok.encodeBatch(['hello world 😀']))[0];
  t.deepEqual(frozen.tokens, reference.tokens);
  t.deepEqual(frozen.wordIds, reference.wordIds);
  t.is(frozen.offsets, frozen.offsets, 'read once, then the same array');
});
