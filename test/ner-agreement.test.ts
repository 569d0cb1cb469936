// One saved NER model, two scorers: `bertorch evaluate` and transformers +
// seqeval as run_ner.py scores (scripts/fixtures/score-ner-hf.py). With the
// tokenizer of all-MiniLM-L6-v2 as shipped, bertorch once padded every text
// to 128 and put the first padding position under a word's label, so its own
// F1 disagreed with transformers' by ten points; now the two must agree.
// The model is tiny and fine-tuned here by the CLI on generated
// customer-service messages with entities (lib/synth), in CoNLL.
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BertModel } from '../lib/index.js';
import { CustomerServiceGenerator, type LabeledMessage } from '../lib/synth/index.js';
import { folder } from './helpers/hf-folders.js';
import { PYTHON, pythonGate } from './helpers/python.js';
import { BIN, run as spawnRun } from './helpers/cli.js';

const ENV = { ...process.env, OMP_NUM_THREADS: '1', HF_HUB_OFFLINE: '1' };
const run = (cmd: string, args: string[]) => spawnRun(cmd, args, { env: ENV });

const { test } = pythonGate(['torch', 'transformers', 'seqeval']);
const SCORER = fileURLToPath(new URL('../scripts/fixtures/score-ner-hf.py', import.meta.url));

const conll = (messages: LabeledMessage[]) => messages.map((m) => m.tokens.map((w, k) => `${w}\t${m.tags[k]}`).join('\n')).join('\n\n') + '\n';

test('bertorch evaluate and transformers + seqeval give one saved NER model the same entity F1', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bertorch-ner-agree-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const gen = new CustomerServiceGenerator({ seed: 24 });
  await writeFile(join(dir, 'train.conll'), conll(gen.labeled({ perIntent: 120, split: 'train' })));
  await writeFile(join(dir, 'test.conll'), conll(gen.labeled({ perIntent: 10, split: 'test' })));
  const base = join(dir, 'base');
  await cp(folder('minilm'), base, { recursive: true });
  const model = BertModel.create({
    vocab_size: 30522, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 128, max_position_embeddings: 128,
  }, { seed: 1 });
  await model.savePretrained(base);
  model.dispose();
  const out = join(dir, 'out');
  const tune = await run(process.execPath, [BIN, 'finetune', '--task', 'ner', '--model', base, '--train', join(dir, 'train.conll'),
    '--out', out, '--epochs', '4', '--batch-size', '16', '--lr', '1e-3', '--max-length', '64', '--quiet']);
  t.is(tune.code, 0, tune.stderr);
  const ours = await run(process.execPath, [BIN, 'evaluate', '--model', out, '--data', join(dir, 'test.conll'), '--max-length', '64', '--json']);
  t.is(ours.code, 0, ours.stderr);
  const theirs = await run(PYTHON, [SCORER, out, join(dir, 'test.conll'), '--max-length', '64']);
  t.is(theirs.code, 0, theirs.stderr);
  const f1 = (JSON.parse(ours.stdout.trim().split('\n').pop()!).report['micro avg'] as { 'f1-score': number })['f1-score'];
  const hf = JSON.parse(theirs.stdout.trim().split('\n').pop()!) as { f1: number; truncatedWords: number };
  t.log(`entity F1: bertorch ${(100 * f1).toFixed(2)}, transformers + seqeval ${(100 * hf.f1).toFixed(2)}`);
  t.is(hf.truncatedWords, 0, 'no word was truncated away, so both score every word');
  t.true(f1 > 0.3, 'the model learned some entities, so agreement is not 0 = 0');
  t.true(Math.abs(f1 - hf.f1) < 1e-6);
});
