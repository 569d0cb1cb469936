// `bertorch rank train | evaluate | score` as a user runs them (bin/bertorch.js in child processes).
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { clickLog } from '../examples/recommend/clicks.js';

const run = promisify(execFile);
const BIN = path.resolve('bin/bertorch.js');
const ENV = { ...process.env, OMP_NUM_THREADS: '1' };
let dir: string;
test.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'bertorch-rank-cli-'));
  await writeFile(path.join(dir, 'train.jsonl'), clickLog({ contexts: 60, seed: 1 }).map((c) => JSON.stringify(c)).join('\n') + '\n');
  const held = clickLog({ contexts: 20, seed: 2 });
  await writeFile(path.join(dir, 'eval.csv'), 'context,item,clicked\n' + held.map((c) => `${c.context},${c.item},${c.clicked}`).join('\n') + '\n');
  await writeFile(path.join(dir, 'bad.jsonl'), JSON.stringify({ context: 'a', item: 'b', clicked: 'yes' }) + '\n' + JSON.stringify(held[0]) + '\n');
});
test.after.always(async () => { if (dir) await rm(dir, { recursive: true, force: true }); });

test.serial('train saves a ranker and prints ranking metrics; evaluate and score use it', async (t) => {
  const out = path.join(dir, 'ranker');
  const common = ['--max-length', '32', '--quiet'];
  const trained = await run(process.execPath, [BIN, 'rank', 'train', '--train', path.join(dir, 'train.jsonl'), '--eval', path.join(dir, 'eval.csv'), '--out', out,
    '--preset', 'tiny', '--vocab-size', '300', '--epochs', '1', '--batch-size', '32', '--lr', '1e-3', '--ks', '1,10', ...common], { env: ENV, timeout: 120_000 });
  const summary = JSON.parse(trained.stdout);
  t.like(summary, { command: 'rank train', out, groups: 20, judgedGroups: summary.judgedGroups });
  for (const key of ['trainLoss', 'auc', 'groupAuc', 'mrr', 'ndcg@1', 'ndcg@10', 'recall@10']) t.is(typeof summary[key], 'number', key);
  t.true(existsSync(path.join(out, 'model.safetensors')) && existsSync(path.join(out, 'tokenizer.json')));

  const evaluated = await run(process.execPath, [BIN, 'rank', 'evaluate', '--model', out, '--data', path.join(dir, 'eval.csv'), '--baseline', 'bm25', '--ks', '1,10', ...common], { env: ENV });
  const [ranker, bm25] = evaluated.stdout.trim().split('\n').map((l) => JSON.parse(l));
  t.like(ranker, { scorer: 'ranker', pairs: 400, groups: 20 });
  t.like(bm25, { scorer: 'bm25', pairs: 400, groups: 20 });
  t.true(Math.abs(ranker['ndcg@10'] - summary['ndcg@10']) < 1e-5, 'the saved ranker scores as the trained one');

  const queries = path.join(dir, 'queries.jsonl');
  await writeFile(queries, JSON.stringify({ context: 'viewed arbor red dome tent and vela blue tunnel tent', candidates: ['lumo grey sleeping bag', 'orbit red yoga mat', 'vela black pop up tent'] }) + '\n');
  const scored = await run(process.execPath, [BIN, 'rank', 'score', '--model', out, '--input', queries, '--top-k', '2', ...common], { env: ENV });
  const line = JSON.parse(scored.stdout);
  t.is(line.ranked.length, 2);
  t.true(line.ranked[0].score >= line.ranked[1].score);
});

test('a bad click row is an error naming file:line; usage errors exit 2; --help lists the options', async (t) => {
  const e = await t.throwsAsync(run(process.execPath, [BIN, 'rank', 'train', '--train', path.join(dir, 'bad.jsonl'), '--out', path.join(dir, 'x')], { env: ENV })) as unknown as { code: number; stderr: string };
  t.is(e.code, 1);
  t.regex(e.stderr, /bad\.jsonl:1/);
  const e2 = await t.throwsAsync(run(process.execPath, [BIN, 'rank', 'evaluate', '--data', path.join(dir, 'eval.csv')], { env: ENV })) as unknown as { code: number; stderr: string };
  t.is(e2.code, 2);
  t.regex(e2.stderr, /missing --model/);
  const e3 = await t.throwsAsync(run(process.execPath, [BIN, 'rank', 'fly'], { env: ENV })) as unknown as { code: number; stderr: string };
  t.is(e3.code, 2);
  t.regex(e3.stderr, /rank <train\|evaluate\|score>/);
  const help = await run(process.execPath, [BIN, 'rank', 'train', '--help'], { env: ENV });
  for (const flag of ['--train', '--eval', '--out', '--context-column', '--item-column', '--label-column', '--ks', '--epochs']) t.true(help.stdout.includes(flag), flag);
});
