// FaqAnswerer over all-MiniLM-L6-v2 and the generated FAQ (lib/faq/synthetic.ts):
// answers with matched questions, a threshold calibrated for a target
// precision on one half of the held-out queries that sends the other half's
// out-of-scope questions to a person, the intent filter, save/load, shared
// forward passes for concurrent questions, and file:line errors for bad KBs.
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SentenceEncoder } from '../lib/embeddings/index.js';
import { FaqAnswerer, FaqInputError, readFaq, readHeldOut, syntheticFaq, type HeldOutQuery } from '../lib/faq/index.js';
import { miniLMGate } from './helpers/minilm.js';

const { dir: minilm, test: mtest } = miniLMGate();
const csvField = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
let tmp: string;
let encoder: SentenceEncoder;
const set = syntheticFaq({ seed: 2, heldOutPerIntent: 10 });

test.before(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'bt-faq-'));
  if (minilm) encoder = await SentenceEncoder.fromPretrained(minilm);
});
test.after.always(async () => {
  await encoder?.close();
  await rm(tmp, { recursive: true, force: true });
});

async function kbFile(name: string, text: string): Promise<string> {
  const f = path.join(tmp, name);
  await writeFile(f, text);
  return f;
}

mtest('answers come with scores and matched questions, distinct and best first, from a CSV knowledge base', async (t) => {
  const csv = 'id,question,answer,intent\n' + set.entries.map((e) => [e.id, e.question, e.answer, e.intent!].map(csvField).join(',')).join('\n') + '\n';
  const faq = await FaqAnswerer.build(await kbFile('kb.csv', csv), encoder);
  t.is(faq.entries.length, set.entries.length);
  t.is(faq.entries[0].source, `${path.join(tmp, 'kb.csv')}:2`);
  const r = await faq.answer('i forgot my password and cannot log in', { k: 3 });
  t.is(r.answers.length, 3);
  t.is(r.answers[0].intent, 'password_reset');
  t.is(new Set(r.answers.map((a) => a.answer)).size, 3);
  t.true(r.answers[0].score >= r.answers[1].score && r.answers[1].score >= r.answers[2].score);
  t.true(set.entries.some((e) => e.question === r.answers[0].question && e.id === r.answers[0].id));
  t.false(r.outOfScope);  // threshold 0 before calibration
  await faq.close();
});

mtest('calibrate() picks the threshold for a target precision, and held-out out-of-scope questions fall back', async (t) => {
  const faq = await FaqAnswerer.build(set.entries, encoder);
  const half = (xs: HeldOutQuery[], odd: number) => xs.filter((_, i) => i % 2 === odd);
  const oos = set.outOfScope.map((q) => ({ query: q, outOfScope: true }));
  const cal = await faq.calibrate([...half(set.heldOut, 0), ...half(oos, 0)], { targetPrecision: 0.9 });
  t.log(`calibration: threshold ${cal.threshold.toFixed(3)}, precision ${cal.precision.toFixed(3)}, coverage ${cal.coverage.toFixed(3)}, top-1 ${cal.top1Accuracy.toFixed(3)}`);
  t.true(cal.reached);
  t.true(cal.precision >= 0.9);
  t.is(faq.threshold, cal.threshold);
  // The other half: out-of-scope questions go to a person; answered in-scope ones are mostly right.
  const test2 = [...half(set.heldOut, 1), ...half(oos, 1)];
  const rs = await Promise.all(test2.map((x) => faq.answer(x.query, { k: 1 })));
  const oosAnswered = rs.filter((r, i) => test2[i].outOfScope && !r.outOfScope).length;
  const answered = rs.filter((r, i) => !test2[i].outOfScope && !r.outOfScope);
  const right = rs.filter((r, i) => !test2[i].outOfScope && !r.outOfScope && r.answers[0].intent === test2[i].intent).length;
  t.log(`held-out half: ${oosAnswered}/${half(oos, 1).length} out-of-scope answered, ${right}/${answered.length} answered in-scope right`);
  t.true(oosAnswered <= 1);
  t.true(answered.length > 0 && right / answered.length >= 0.75);
  // An unreachable target keeps the best-precision threshold and says so.
  const strict = await faq.calibrate([{ query: 'what is the capital of australia', intent: 'billing_question' }], { targetPrecision: 1 });
  t.false(strict.reached);
  await faq.close();
});

mtest('an intent classifier narrows retrieval to its intent', async (t) => {
  const faq = await FaqAnswerer.build(set.entries, encoder, { intentClassifier: { predict: async () => ({ label: 'update_address', score: 0.9 }) } });
  const r = await faq.answer('i forgot my password', { k: 2 });
  t.deepEqual(r.intent, { label: 'update_address', score: 0.9, filtered: true });
  t.true(r.answers.every((a) => a.intent === 'update_address'));
  faq.intentThreshold = 0.95;
  const r2 = await faq.answer('i forgot my password', { k: 1 });
  t.false(r2.intent!.filtered);
  t.is(r2.answers[0].intent, 'password_reset');
  await faq.close();
});

mtest('save and load keep entries, index and threshold; concurrent questions share forward passes', async (t) => {
  const faq = await FaqAnswerer.build(set.entries, encoder, { threshold: 0.42 });
  await faq.save(path.join(tmp, 'saved'));
  const back = await FaqAnswerer.load(path.join(tmp, 'saved'), encoder);
  t.is(back.threshold, 0.42);
  t.deepEqual(back.entries, faq.entries);
  const qs = set.heldOut.slice(0, 16).map((h) => h.query);
  const before = encoder.stats().batches;
  const [a, b] = [await Promise.all(qs.map((q) => faq.answer(q))), await Promise.all(qs.map((q) => back.answer(q)))];
  t.true(encoder.stats().batches - before < 2 * qs.length);
  t.deepEqual(a.map((r) => r.answers.map((x) => x.id)), b.map((r) => r.answers.map((x) => x.id)));
  await faq.close();
  await back.close();
});

test('bad knowledge bases are refused naming file:line', async (t) => {
  const bad = async (name: string, text: string, message: RegExp) => {
    const f = await kbFile(name, text);
    await t.throwsAsync(readFaq(f), { instanceOf: FaqInputError, message });
  };
  await bad('empty.csv', 'question,answer\n', /empty\.csv: the knowledge base is empty/);
  await bad('blank.jsonl', '\n\n', /blank\.jsonl: the knowledge base is empty/);
  await bad('dup.csv', 'id,question,answer\na,q1,x\nb,q2,y\na,q3,z\n', /dup\.csv:4: duplicate id "a" \(first at line 2\)/);
  await bad('noanswer.csv', 'question,answer\nq1,x\nq2,\n', /noanswer\.csv:3: row without an answer .*"q2"/);
  await bad('noanswer.jsonl', '{"question":"q1","answer":"a"}\n{"question":"q2"}\n', /noanswer\.jsonl:2: row without an answer/);
  await bad('noquestion.jsonl', '{"question":"","answer":"a"}\n', /noquestion\.jsonl:1: row without a question/);
  await bad('badjson.jsonl', '{"question":"q1","answer":"a"}\n{oops\n', /badjson\.jsonl:2: not valid JSON/);
  await bad('fields.csv', 'question,answer\nq1,a1,extra\n', /fields\.csv:2: /);
  await bad('kb.txt', 'q\n', /kb\.txt: unknown format/);
  t.deepEqual((await readFaq(await kbFile('ok.jsonl', '{"question":"q","answer":"a","intent":"i"}\n'))).map((e) => e.id), ['L1']);
  await t.throwsAsync(readHeldOut(await kbFile('held.csv', 'query,intent\nhello,\n')), { instanceOf: FaqInputError, message: /held\.csv:2: row without an expected id, intent or out_of_scope/ });
  await t.throwsAsync(FaqAnswerer.build([], {} as SentenceEncoder), { instanceOf: FaqInputError, message: /knowledge base is empty/ });
  await t.throwsAsync(FaqAnswerer.build([{ id: 'x', question: 'q', answer: 'a' }, { id: 'x', question: 'q2', answer: 'b' }], {} as SentenceEncoder), { instanceOf: FaqInputError, message: /duplicate id "x"/ });
});
