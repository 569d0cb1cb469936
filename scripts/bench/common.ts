/**
 * Shared helpers for the benchmarks in scripts/bench/: flag parsing, JSON-line
 * output, medians, fresh child processes (ours) and PyTorch peers (Python),
 * the seeded batch generator both sides share, and the FLOP formulas.
 * stdout carries JSON lines only; progress and child stderr go to stderr.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { info, randn, setNumThreads } from '../../lib/index.js';
import { mulberry32Raw } from '../../lib/train/rng.js';

export const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(BENCH_DIR, '..', '..');

export type Json = Record<string, unknown>;

/** Prints one JSON line on stdout. */
export function emit(rec: Json): void {
  process.stdout.write(JSON.stringify(rec) + '\n');
}

/** Progress for humans, on stderr. */
export function log(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

/** `--key value` and `--flag` into a map (values are strings; a bare flag is 'true'). */
export function parseFlags(argv: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new RangeError(`bench: unexpected argument ${JSON.stringify(a)}`);
    const eq = a.indexOf('=');
    if (eq > 0) { out.set(a.slice(2, eq), a.slice(eq + 1)); continue; }
    const next = argv[i + 1];
    if (next !== undefined && !next.startsWith('--')) { out.set(a.slice(2), next); i++; }
    else out.set(a.slice(2), 'true');
  }
  return out;
}

/** A positive integer flag, or `dflt`. */
export function intFlag(flags: Map<string, string>, key: string, dflt: number): number {
  const v = flags.get(key);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`bench: --${key} expects a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

export function listFlag<T extends string>(flags: Map<string, string>, key: string, dflt: T[], allowed: readonly T[]): T[] {
  const v = flags.get(key);
  if (v === undefined) return dflt;
  const xs = v.split(',').map((s) => s.trim()).filter(Boolean) as T[];
  for (const x of xs) if (!allowed.includes(x)) throw new RangeError(`bench: --${key} expects some of ${allowed.join(',')}, got ${JSON.stringify(x)}`);
  return xs;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Seconds since an arbitrary origin, ns resolution. */
export function now(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}

/** Rounds for readable JSON. */
export function round(x: number, digits = 3): number {
  if (!Number.isFinite(x)) return x;
  const p = 10 ** digits;
  return Math.round(x * p) / p;
}

/** Peak resident set of this process so far, MiB (getrusage ru_maxrss). */
export function peakRssMB(): number {
  return process.resourceUsage().maxRSS / 1024;
}
/** Current resident set, MiB. */
export function rssMB(): number {
  return process.memoryUsage().rss / 2 ** 20;
}

function cpuJiffies(): { busy: number; total: number } | null {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = f[3] + (f[4] ?? 0);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

/**
 * The machine is shared: starts a probe of how many cores' worth of CPU other
 * processes used (all busy time in /proc/stat minus this process's CPU time).
 * stop() returns that average over the window, or null where /proc/stat is
 * absent. 10 ms jiffies: meaningful over windows of a second or more.
 */
export function loadProbe(): () => number | null {
  const j0 = cpuJiffies();
  const c0 = process.cpuUsage();
  const t0 = now();
  return () => {
    const j1 = cpuJiffies();
    if (!j0 || !j1) return null;
    const wall = now() - t0;
    const c = process.cpuUsage(c0);
    const busySec = ((j1.busy - j0.busy) / 100);
    const own = (c.user + c.system) / 1e6;
    return round(Math.max(0, busySec - own) / wall, 2);
  };
}

/**
 * Waits (up to `maxSeconds`) until other processes use under `threshold` cores,
 * sampling 1 s windows; a shared machine's sibling jobs otherwise skew a trial.
 * Returns the last sample (null without /proc/stat). 0 seconds: no wait.
 */
export async function waitQuiet(maxSeconds: number, threshold = 0.25): Promise<number | null> {
  if (!(maxSeconds > 0)) return null;
  const deadline = now() + maxSeconds;
  let load: number | null = null;
  while (now() < deadline) {
    const probe = loadProbe();
    await new Promise((r) => setTimeout(r, 1000));
    load = probe();
    if (load === null || load < threshold) return load;
  }
  log(`other processes still use ${load} cores after ${maxSeconds} s; running anyway`);
  return load;
}

/** Sets libtorch's intra-op threads (from --threads, else what info() says) and returns the number. */
export function useThreads(flags: Map<string, string>): number {
  const n = intFlag(flags, 'threads', info().intraOpThreads);
  setNumThreads(n);
  return n;
}

/** Fields every record carries: what ran, where, with which libtorch. */
export function envFields(threads: number): Json {
  const i = info();
  return {
    device: 'cpu',
    cpu: os.cpus()[0]?.model.trim(),
    threads,
    libtorch: i.libtorchVersion,
    blas: i.blas,
    cpuCapability: i.cpuCapability,
    node: process.version,
  };
}

/** The Python interpreter for the PyTorch peers: $BERTORCH_PYTHON, else the repo's .venv. */
export function pythonPath(): string {
  if (process.env.BERTORCH_PYTHON) return process.env.BERTORCH_PYTHON;
  const venv = path.join(ROOT, '.venv', 'bin', 'python');
  return existsSync(venv) ? venv : 'python3';
}

/**
 * Runs a command and returns the JSON objects it printed on stdout (one per
 * line); `onRecord` sees each as it arrives. stderr passes through. Rejects on
 * a non-zero exit with the exit code and the last stderr lines.
 */
export function runJsonLines(cmd: string, args: string[], onRecord?: (r: Json) => void): Promise<Json[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    const recs: Json[] = [];
    let buf = '';
    let errTail = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        try {
          const r = JSON.parse(line) as Json;
          recs.push(r);
          onRecord?.(r);
        } catch {
          process.stderr.write(line + '\n');
        }
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      process.stderr.write(d);
      errTail = (errTail + d).slice(-2000);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve(recs);
      else reject(new Error(`${path.basename(cmd)} ${args.slice(0, 2).join(' ')} exited with ${code ?? signal}\n${errTail.trim().split('\n').slice(-5).join('\n')}`));
    });
  });
}

/** Runs a bench .ts file in a fresh Node process (same tsx loader as this one). */
export function runTsChild(script: string, args: string[], onRecord?: (r: Json) => void): Promise<Json[]> {
  return runJsonLines(process.execPath, [...process.execArgv, path.join(BENCH_DIR, script), ...args], onRecord);
}

/** Runs a PyTorch peer script from scripts/bench/ with $BERTORCH_PYTHON. */
export function runPeer(script: string, args: string[], onRecord?: (r: Json) => void): Promise<Json[]> {
  return runJsonLines(pythonPath(), [path.join(BENCH_DIR, script), ...args], onRecord);
}

/**
 * float32 (n x n) @ (n x n) throughput, GFLOP/s (2 n^3 FLOPs per product).
 * Warm-up, then `reps` samples of `inner` products each (inner sized so a
 * sample lasts >= ~50 ms); returns the median and best sample.
 */
export function measureMatmul(n: number, warmup = 2, reps = 7, dtype: 'float32' | 'bfloat16' = 'float32'): { gflops: number; gflopsBest: number; inner: number; reps: number } {
  const a = randn([n, n], { seed: 1 }).to(dtype);
  const b = randn([n, n], { seed: 2 }).to(dtype);
  let t0 = now();
  for (let i = 0; i < warmup; i++) a.matmul(b).dispose();
  const one = Math.max((now() - t0) / Math.max(warmup, 1), 1e-6);
  const inner = Math.max(1, Math.round(0.05 / one));
  const rates: number[] = [];
  for (let r = 0; r < reps; r++) {
    t0 = now();
    for (let i = 0; i < inner; i++) a.matmul(b).dispose();
    rates.push((2 * n ** 3 * inner) / (now() - t0) / 1e9);
  }
  a.dispose();
  b.dispose();
  return { gflops: median(rates), gflopsBest: Math.max(...rates), inner, reps };
}

/** mulberry32, bit for bit the same as peer_train.py's. Returns [0, 1). */
export const mulberry32 = mulberry32Raw;

export type Task = 'seqcls' | 'mlm';
export const TASKS: readonly Task[] = ['seqcls', 'mlm'];
export const MASK_ID = 103;
export const MLM_PROB = 0.15;
export const NUM_LABELS = 2;

/**
 * A synthetic batch, identical to peer_train.py's for the same seed: ids
 * uniform in [1000, vocab), no padding, one segment. seqcls: one label in
 * {0, 1} per row. mlm: each position masked with probability 0.15 (id -> [MASK],
 * label = the original id), every other label -100.
 */
export function makeBatch(task: Task, B: number, T: number, vocab: number, seed: number) {
  const rnd = mulberry32(seed);
  const n = B * T;
  const inputIds = new BigInt64Array(n);
  for (let i = 0; i < n; i++) inputIds[i] = BigInt(1000 + Math.floor(rnd() * (vocab - 1000)));
  const attentionMask = new BigInt64Array(n).fill(1n);
  const tokenTypeIds = new BigInt64Array(n);
  let labels: BigInt64Array;
  let masked = 0;
  if (task === 'seqcls') {
    labels = new BigInt64Array(B);
    for (let b = 0; b < B; b++) labels[b] = rnd() < 0.5 ? 0n : 1n;
  } else {
    labels = new BigInt64Array(n).fill(-100n);
    for (let i = 0; i < n; i++) {
      if (rnd() < MLM_PROB) { labels[i] = inputIds[i]; inputIds[i] = BigInt(MASK_ID); masked++; }
    }
  }
  return { batch: { inputIds, attentionMask, tokenTypeIds, labels, shape: [B, T] as [number, number] }, masked };
}

export interface ModelDims {
  layers: number;
  hidden: number;
  heads: number;
  intermediate: number;
  vocab: number;
}

/**
 * Parameters that multiply every token in a matmul, excluding embeddings
 * (lookups, ~0 FLOPs): per layer Q, K, V, O (4 d^2) and the FFN (2 d d_ff), plus
 * for MLM the head's transform (d^2) and the decoder (d V, tied to the word
 * embeddings but a real matmul over every position). Biases and LayerNorm are
 * left out (O(d) per token).
 */
export function matmulParamsPerToken(m: ModelDims, task: Task): number {
  const enc = m.layers * (4 * m.hidden ** 2 + 2 * m.hidden * m.intermediate);
  return task === 'mlm' ? enc + m.hidden ** 2 + m.hidden * m.vocab : enc;
}

/**
 * Training FLOPs of one step (forward + backward = 3 x forward; Kaplan et al.
 * 2020, PaLM appendix B):
 *   6 * N * B * T                 weights: N = matmulParamsPerToken
 * + 12 * L * d * T^2 * B          attention scores and weighted sum (QK^T, AV)
 * + 6 * B * (d^2 + d * labels)    seqcls only: pooler + classifier on [CLS]
 */
export function trainFlopsPerStep(m: ModelDims, task: Task, B: number, T: number): number {
  const weights = 6 * matmulParamsPerToken(m, task) * B * T;
  const attention = 12 * m.layers * m.hidden * T * T * B;
  const head = task === 'seqcls' ? 6 * B * (m.hidden ** 2 + m.hidden * NUM_LABELS) : 0;
  return weights + attention + head;
}
