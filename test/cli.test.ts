// The bertorch CLI, spawned as users run it (bin/bertorch.js): help and exit
// codes, then pretrain -> finetune -> evaluate -> predict on tiny generated
// data, for sequence classification (CSV, a YAML config under the flags) and
// NER (CoNLL), with predictions from a file and from stdin.
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../bin/bertorch.js', import.meta.url));

interface Run { code: number | null; stdout: string; stderr: string }

function cli(args: string[], opts: { stdin?: string; cwd?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(opts.stdin ?? '');
  });
}

// ---- tiny data: three intents and PER/LOC sentences, from a seeded generator ----

let seed = 12345;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
const ITEMS = ['lamp', 'shoes', 'phone', 'chair', 'book', 'coat'];
const NAMES = ['alice', 'bob', 'carol', 'dave', 'erin'];
const CITIES = ['paris', 'london', 'berlin', 'madrid', 'rome'];
const INTENTS: Record<string, string[]> = {
  refund: ['i want my money back for the X', 'please refund the X', 'refund my X now'],
  delivery: ['where is my X', 'the X has not arrived', 'when will the X arrive'],
  cancel: ['cancel my X order', 'i no longer want the X', 'please stop the X order'],
};
const message = () => {
  const label = pick(Object.keys(INTENTS));
  return { text: pick(INTENTS[label]).replace('X', pick(ITEMS)), label };
};
const csv = (rows: Array<{ text: string; label: string }>) => 'id,text,label\n' + rows.map((r, k) => `${k},"${r.text}",${r.label}`).join('\n') + '\n';
const cap = (w: string) => w[0].toUpperCase() + w.slice(1);
function conll(n: number): string {
  return Array.from({ length: n }, () => {
    const rows = [[cap(pick(NAMES)), 'B-PER']];
    if (rand() < 0.5) rows.push([pick(['Smith', 'Jones']), 'I-PER']);
    rows.push(['went', 'O'], ['to', 'O'], [cap(pick(CITIES)), 'B-LOC'], ['.', 'O']);
    return rows.map((r) => r.join(' ')).join('\n');
  }).join('\n\n') + '\n';
}

let dir: string;
const at = (...p: string[]) => path.join(dir, ...p);

test.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'bertorch-cli-'));
  const corpus = Array.from({ length: 500 }, () => `${message().text} said ${pick(NAMES)} from ${pick(CITIES)}`);
  await writeFile(at('corpus.txt'), corpus.join('\n') + '\n');
  await writeFile(at('train.csv'), csv(Array.from({ length: 120 }, message)));
  await writeFile(at('test.csv'), csv(Array.from({ length: 30 }, message)));
  await writeFile(at('ner-train.conll'), conll(80));
  await writeFile(at('ner-test.conll'), conll(20));
  // Options shared by the steps; the flags given below win over them.
  await writeFile(at('bertorch.yaml'), [
    'quiet: true', 'maxLength: 32', 'seed: 7',
    'finetune:', '  epochs: 1', '  batch-size: 16', '  lr: 0.002', '  logging-steps: 100',
    'evaluate:', '  digits: 3',
  ].join('\n') + '\n');
});

test.after.always(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

// ---- help and usage errors ----

test('--help prints each command\'s usage and options and exits 0', async (t) => {
  for (const command of ['pretrain', 'finetune', 'evaluate', 'predict']) {
    const r = await cli([command, '--help']);
    t.is(r.code, 0, r.stderr);
    t.regex(r.stdout, new RegExp(`Usage: bertorch ${command} `));
    t.regex(r.stdout, /--config <value>/);
  }
  const general = await cli(['--help']);
  t.is(general.code, 0);
  t.regex(general.stdout, /pretrain[\s\S]*finetune[\s\S]*evaluate[\s\S]*predict/);
});

test('usage errors exit 2 with a message naming the problem', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [[], /Usage: bertorch <command>/],
    [['train'], /unknown command 'train'/],
    [['finetune', '--bogus'], /unknown option '--bogus'[\s\S]*bertorch finetune --help/],
    [['evaluate', '--model', 'm'], /missing --data/],
    [['finetune', '--train', 'x.csv', '--out', 'o', '--epochs', 'two'], /Expected an integer for --epochs but received "two"/],
    [['finetune', '--train', 'x.csv', '--out', 'o', '--task', 'qa'], /one of classification, ner for --task/],
  ];
  for (const [args, message] of cases) {
    const r = await cli(args);
    t.is(r.code, 2, `bertorch ${args.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, message);
  }
});

test('a config file with an unknown key is a usage error; a missing input is a runtime error (exit 1)', async (t) => {
  const bad = path.join(dir ?? tmpdir(), 'bad.json');
  await writeFile(bad, JSON.stringify({ batchSize: 4, colour: 'red' }));
  const r = await cli(['evaluate', '--config', bad, '--model', 'm', '--data', 'd.csv']);
  t.is(r.code, 2);
  t.regex(r.stderr, /unknown option "colour" in --config .*bad\.json/);
  const missing = await cli(['evaluate', '--model', at('no-such-model'), '--data', at('test.csv')]);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /--model .*no-such-model: no such file or folder/);
});

// ---- the pipeline ----

test.serial('pretrain writes an MLM model folder with its tokenizer from a raw text corpus', async (t) => {
  const r = await cli(['pretrain', '--corpus', at('corpus.txt'), '--out', at('pretrained'), '--config', at('bertorch.yaml'),
    '--preset', 'tiny', '--vocab-size', '200', '--max-position-embeddings', '64', '--max-steps', '12', '--batch-size', '16', '--validation', '0.05']);
  t.is(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout);
  t.like(summary, { command: 'pretrain', steps: 12, stopReason: 'completed' });
  t.true(Number.isFinite(summary.eval_loss));
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'vocab.txt']) t.true(existsSync(at('pretrained', f)), f);
  t.deepEqual(JSON.parse(readFileSync(at('pretrained', 'config.json'), 'utf8')).architectures, ['BertForMaskedLM']);
});

test.serial('finetune -> evaluate -> predict round trip for sequence classification from CSV', async (t) => {
  if (!existsSync(at('pretrained', 'config.json'))) return t.fail('pretraining did not run');
  const ft = await cli(['finetune', '--config', at('bertorch.yaml'), '--train', at('train.csv'), '--eval', at('test.csv'),
    '--model', at('pretrained'), '--out', at('intents'), '--epochs', '3']);
  t.is(ft.code, 0, ft.stderr);
  const summary = JSON.parse(ft.stdout);
  t.is(summary.steps, 24, 'flags win over the config file: 3 epochs of 8 batches');
  t.true(summary.eval_accuracy > 0.5, `eval accuracy ${summary.eval_accuracy}`);
  // Where the run's time went, as HF's train_runtime / eval_runtime: the evaluations are part of the run.
  t.true(summary.trainRuntime > 0 && summary.evalRuntime > 0 && summary.evalRuntime < summary.trainRuntime, JSON.stringify(summary));
  t.true(summary.trainSamplesPerSecond > 0);
  t.false('eval_runtime' in summary, 'the total evalRuntime, not the last evaluation\'s');
  const config = JSON.parse(readFileSync(at('intents', 'config.json'), 'utf8'));
  t.deepEqual(config.id2label, { 0: 'cancel', 1: 'delivery', 2: 'refund' });

  const ev = await cli(['evaluate', '--config', at('bertorch.yaml'), '--model', at('intents'), '--data', at('test.csv')]);
  t.is(ev.code, 0, ev.stderr);
  t.regex(ev.stdout, /^loss: \d\.\d{3}$/m);
  t.regex(ev.stdout, /precision\s+recall\s+f1-score\s+support/);
  t.regex(ev.stdout, /^\s+refund\s+\d\.\d{3}/m);
  t.regex(ev.stdout, /^\s+accuracy\s+\d\.\d{3}\s+30$/m);

  const pr = await cli(['predict', '--model', at('intents'), '--input', at('test.csv'), '--output', at('predictions.jsonl'), '--quiet']);
  t.is(pr.code, 0, pr.stderr);
  const lines = readFileSync(at('predictions.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const texts = readFileSync(at('test.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split('"')[1]);
  t.deepEqual(lines.map((l) => l.text), texts);
  for (const l of lines) {
    t.true(['cancel', 'delivery', 'refund'].includes(l.label));
    t.is(l.score, Math.max(...Object.values(l.probabilities as Record<string, number>)));
  }
  const truth = readFileSync(at('test.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').at(-1));
  const correct = lines.filter((l, k) => l.label === truth[k]).length;
  t.true(correct / lines.length > 0.5);

  const stdin = await cli(['predict', '--model', at('intents'), '--quiet'], { stdin: 'where is my lamp\n\nplease refund the book\n' });
  t.is(stdin.code, 0, stdin.stderr);
  const out = stdin.stdout.trim().split('\n').map((l) => JSON.parse(l));
  t.deepEqual(out.map((l) => l.text), ['where is my lamp', 'please refund the book']);
  t.true(out.every((l) => typeof l.label === 'string' && l.score > 0));
});

test.serial('finetune --task ner -> evaluate (seqeval report) -> predict entities from stdin', async (t) => {
  if (!existsSync(at('pretrained', 'config.json'))) return t.fail('pretraining did not run');
  const ft = await cli(['finetune', '--config', at('bertorch.yaml'), '--task', 'ner', '--train', at('ner-train.conll'),
    '--eval', at('ner-test.conll'), '--model', at('pretrained'), '--out', at('ner'), '--epochs', '4', '--batch-size', '8', '--lr', '0.003']);
  t.is(ft.code, 0, ft.stderr);
  const summary = JSON.parse(ft.stdout);
  t.true(summary.eval_f1 > 0.5, `entity F1 ${summary.eval_f1}`);
  t.deepEqual(JSON.parse(readFileSync(at('ner', 'config.json'), 'utf8')).architectures, ['BertForTokenClassification']);

  const ev = await cli(['evaluate', '--model', at('ner'), '--data', at('ner-test.conll'), '--max-length', '32', '--digits', '2']);
  t.is(ev.code, 0, ev.stderr);
  t.regex(ev.stdout, /^\s+LOC\s+\d\.\d\d\s+\d\.\d\d\s+\d\.\d\d\s+20$/m);
  t.regex(ev.stdout, /^\s+PER\s/m);
  t.regex(ev.stdout, /^\s+micro avg\s/m);
  const json = await cli(['evaluate', '--model', at('ner'), '--data', at('ner-test.conll'), '--json']);
  t.is(JSON.parse(json.stdout).report['micro avg'].support, 40);

  const pr = await cli(['predict', '--model', at('ner'), '--quiet'], { stdin: 'Alice Smith went to Paris .\nBob went to Rome .\n' });
  t.is(pr.code, 0, pr.stderr);
  const [first, second] = pr.stdout.trim().split('\n').map((l) => JSON.parse(l));
  t.is(first.text, 'Alice Smith went to Paris .');
  for (const line of [first, second]) for (const e of line.entities) t.is(e.text, line.text.slice(e.start, e.end));
  t.true(first.entities.some((e: { type: string; text: string }) => e.type === 'LOC' && e.text === 'Paris'), JSON.stringify(first.entities));
});
