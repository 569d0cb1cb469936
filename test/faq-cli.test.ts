// `bertorch embed`, `index build|query` and `faq build|ask|calibrate` as a
// user runs them (bin/bertorch.js in child processes) with all-MiniLM-L6-v2.
import test from 'ava';
import { execFile } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { syntheticFaq } from '../lib/faq/index.js';
import { miniLMGate } from './helpers/minilm.js';

const run = promisify(execFile);
const BIN = path.resolve('bin/bertorch.js');
const ENV = { ...process.env, OMP_NUM_THREADS: '1' };
const { dir: minilm, test: mtest } = miniLMGate();
let dir: string;
test.before(async () => { dir = await mkdtemp(path.join(tmpdir(), 'bertorch-faq-cli-')); });
test.after.always(async () => { if (dir) await rm(dir, { recursive: true, force: true }); });
const cli = (args: string[]) => run(process.execPath, [BIN, ...args, '--quiet'], { env: ENV, timeout: 120_000 });

mtest('embed writes an n x 384 float32 file; index build and query find a text by a paraphrase', async (t) => {
  const texts = ['how do i reset my password', 'where is my parcel', 'cancel my subscription please', 'the weather is nice today'];
  await writeFile(path.join(dir, 'texts.txt'), texts.join('\n') + '\n');
  await cli(['embed', '--model', minilm!, '--input', path.join(dir, 'texts.txt'), '--output', path.join(dir, 'v.f32')]);
  t.is(statSync(path.join(dir, 'v.f32')).size, texts.length * 384 * 4);
  const built = JSON.parse((await cli(['index', 'build', '--model', minilm!, '--input', path.join(dir, 'texts.txt'), '--output', path.join(dir, 'texts.index')])).stdout);
  t.like(built, { command: 'index build', kind: 'exact', size: 4, dim: 384 });
  const q = JSON.parse((await cli(['index', 'query', '--model', minilm!, '--index', path.join(dir, 'texts.index'), '--query', 'i forgot my login password', '--k', '2'])).stdout);
  t.is(q.hits.length, 2);
  t.is(q.hits[0].text, texts[0]);
});

mtest('faq build, calibrate and ask: answers with scores, out-of-scope verdicts after calibration', async (t) => {
  const set = syntheticFaq({ seed: 4, heldOutPerIntent: 4 });
  const kb = path.join(dir, 'kb.jsonl');
  await writeFile(kb, set.entries.map((e) => JSON.stringify({ id: e.id, question: e.question, answer: e.answer, intent: e.intent })).join('\n') + '\n');
  const held = path.join(dir, 'held.jsonl');
  await writeFile(held, [...set.heldOut.map((h) => JSON.stringify({ query: h.query, intent: h.intent })), ...set.outOfScope.map((q) => JSON.stringify({ query: q, out_of_scope: 1 }))].join('\n') + '\n');
  const out = path.join(dir, 'faq');
  const b = JSON.parse((await cli(['faq', 'build', '--model', minilm!, '--kb', kb, '--out', out])).stdout);
  t.like(b, { command: 'faq build', entries: set.entries.length, intents: 12 });
  const c = JSON.parse((await cli(['faq', 'calibrate', '--faq', out, '--held-out', held, '--target-precision', '0.9'])).stdout);
  t.true(c.reached && c.precision >= 0.9);
  t.is(JSON.parse(readFileSync(path.join(out, 'faq.json'), 'utf8')).threshold, c.threshold);
  const asked = (await cli(['faq', 'ask', '--faq', out, '--query', 'i forgot my password and cannot log in', '--k', '2'])).stdout.trim().split('\n').map((l) => JSON.parse(l));
  t.is(asked[0].answers[0].intent, 'password_reset');
  const oos = JSON.parse((await cli(['faq', 'ask', '--faq', out, '--query', 'what will the weather be like tomorrow'])).stdout);
  t.true(oos.outOfScope);
});

test('a bad knowledge base fails naming file:line; --help lists the options', async (t) => {
  const kb = path.join(dir, 'bad.csv');
  await writeFile(kb, 'id,question,answer\na,q1,x\na,q2,y\n');
  const e = await t.throwsAsync(cli(['faq', 'build', '--model', minilm ?? dir, '--kb', kb, '--out', path.join(dir, 'x')])) as unknown as { code: number; stderr: string };
  t.is(e.code, 1);
  t.regex(e.stderr, /bad\.csv:3: duplicate id "a"/);
  const e2 = await t.throwsAsync(cli(['faq', 'ask', '--query', 'x'])) as unknown as { code: number; stderr: string };
  t.is(e2.code, 2);
  t.regex(e2.stderr, /missing --faq/);
  for (const [cmd, flags] of [[['embed'], ['--model', '--pooling', '--normalize', '--output']], [['index', 'query'], ['--index', '--k', '--query']], [['faq', 'calibrate'], ['--held-out', '--target-precision']]] as const) {
    const help = await run(process.execPath, [BIN, ...cmd, '--help'], { env: ENV });
    for (const f of flags) t.true(help.stdout.includes(f), `${cmd.join(' ')} ${f}`);
  }
});
