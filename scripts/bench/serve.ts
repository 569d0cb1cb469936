/**
 * Serving benchmark: examples/http-service/server.ts in a fresh child process
 * on 127.0.0.1 (an ephemeral port), loaded by this process with `concurrency`
 * keep-alive clients each sending POST /classify {"text"} back to back, until
 * `--requests` answers or `--seconds` pass. One JSON line per trial:
 * requests/s, p50/p90/p99 latency, and the server's forward passes and mean
 * batch size over the timed window. Trials (declared as data) compare the
 * micro-batching predictor with batch size 1 at each concurrency.
 *
 *   npx tsx scripts/bench/serve.ts [--model <HF folder>] [--preset tiny|mini|small] [--requests 2000]
 *     [--seconds 20] [--concurrency 1,16,64] [--max-batch-size 32] [--max-wait-ms 5] [--max-in-flight 2 (a list: one batched trial each)] [--max-length 64]
 *     [--device cpu|cuda] [--only batched|unbatched]
 *
 * Without --model, a randomly initialised BertForSequenceClassification of
 * the preset (27 intents) with a WordPiece tokenizer trained on synthetic
 * customer-service text is written to a temporary folder: the numbers
 * measure serving, not accuracy. Loopback only; nothing else is contacted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { BertForSequenceClassification, PRESETS, info } from '../../lib/index.js';
import { CustomerServiceGenerator, INTENT_NAMES } from '../../lib/synth/index.js';
import { trainWordPiece } from '../../lib/tokenizer.js';
import { emit, intFlag, log, parseFlags, ROOT, round, type Json } from './common.js';

interface Trial {
  name: 'batched' | 'unbatched';
  maxBatchSize: number;
  maxWaitMs: number;
  maxInFlight: number;
}

const flags = parseFlags(process.argv.slice(2));
const preset = (flags.get('preset') ?? 'mini') as keyof typeof PRESETS;
if (!(preset in PRESETS)) throw new RangeError(`bench: --preset expects one of ${Object.keys(PRESETS).join(', ')}`);
const maxRequests = Math.min(intFlag(flags, 'requests', 2000), 100_000);
const maxSeconds = Math.min(intFlag(flags, 'seconds', 20), 120);
const maxLength = intFlag(flags, 'max-length', 64);
const concurrencies = (flags.get('concurrency') ?? '1,16,64').split(',').map((s) => {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1 || n > 1024) throw new RangeError(`bench: --concurrency expects integers in [1, 1024], got ${s}`);
  return n;
});
const device = flags.get('device') ?? 'cpu';
const inFlight = (flags.get('max-in-flight') ?? '2').split(',').map((x) => {
  const k = Number(x);
  if (!Number.isInteger(k) || k < 1 || k > 16) throw new RangeError(`bench: --max-in-flight expects integers in [1, 16], got ${x}`);
  return k;
});
const TRIALS: Trial[] = [
  ...inFlight.map((k): Trial => ({ name: 'batched', maxBatchSize: intFlag(flags, 'max-batch-size', 32), maxWaitMs: Number(flags.get('max-wait-ms') ?? 5), maxInFlight: k })),
  { name: 'unbatched', maxBatchSize: 1, maxWaitMs: 0, maxInFlight: 2 } as Trial,
].filter((t) => !flags.has('only') || flags.get('only') === t.name);

/** A random model of the preset and a tokenizer trained on synthetic messages, in a temporary folder. */
async function makeModel(texts: string[]): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bertorch-bench-serve-'));
  const tok = await trainWordPiece({ iterator: texts, vocabSize: 4000, minFrequency: 2 });
  const id2label = Object.fromEntries(INTENT_NAMES.map((n, i) => [String(i), n]));
  const label2id = Object.fromEntries(INTENT_NAMES.map((n, i) => [n, i]));
  const model = BertForSequenceClassification.create({ ...PRESETS[preset], vocab_size: tok.vocabSize, max_position_embeddings: 512, id2label, label2id }, { seed: 1 });
  await model.savePretrained(dir);
  await tok.save(dir);
  log(`${preset} model, ${(model.numParameters / 1e6).toFixed(1)}M parameters, vocabulary ${tok.vocabSize} -> ${dir}`);
  model.dispose();
  return dir;
}

/** Starts the example server on an ephemeral loopback port; resolves with its URL. */
function startServer(model: string, trial: Trial): Promise<{ url: string; child: ChildProcess }> {
  const script = path.join(ROOT, 'examples', 'http-service', 'server.ts');
  const args = ['--import', 'tsx', script, '--model', model, '--host', '127.0.0.1', '--port', '0', '--max-length', String(maxLength),
    '--max-batch-size', String(trial.maxBatchSize), '--max-wait-ms', String(trial.maxWaitMs), '--max-in-flight', String(trial.maxInFlight), '--device', device];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill(); reject(new Error('the server did not start within 60 s')); }, 60_000);
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`the server exited with code ${code} before listening`)); });
    createInterface({ input: child.stdout! }).once('line', (line) => {
      clearTimeout(timer);
      child.removeAllListeners('exit');
      resolve({ url: (JSON.parse(line) as { listening: string }).listening, child });
    });
  });
}

function request(agent: http.Agent, url: string, method: string, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent, headers: body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

function quantile(sorted: number[], q: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] : NaN;
}

/** `concurrency` clients sending back to back until `count` answers or `seconds` pass. */
async function load(url: string, texts: string[], concurrency: number, count: number, seconds: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  const deadline = performance.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count && performance.now() < deadline) {
      const text = texts[next++ % texts.length];
      const start = performance.now();
      const r = await request(agent, `${url}/classify`, 'POST', JSON.stringify({ text }));
      latencies.push(performance.now() - start);
      if (r.status !== 200) errors++;
    }
  }));
  const elapsed = (performance.now() - t0) / 1000;
  agent.destroy();
  return { latencies: latencies.sort((a, b) => a - b), elapsed, errors };
}

async function stats(url: string): Promise<Json> {
  const agent = new http.Agent();
  const r = await request(agent, `${url}/stats`, 'GET');
  agent.destroy();
  return JSON.parse(r.text) as Json;
}

async function runTrial(model: string, trial: Trial, concurrency: number, texts: string[]): Promise<void> {
  const { url, child } = await startServer(model, trial);
  try {
    await load(url, texts, Math.min(concurrency, 8), 64, 30); // warm-up: first-call allocations, JIT
    const before = await stats(url);
    const { latencies, elapsed, errors } = await load(url, texts, concurrency, maxRequests, maxSeconds);
    const after = await stats(url);
    const passes = (after.forwardPasses as number) - (before.forwardPasses as number);
    const items = (after.items as number) - (before.items as number);
    emit({
      bench: 'serve', trial: trial.name, preset: flags.has('model') ? path.basename(flags.get('model')!) : preset, device,
      maxBatchSize: trial.maxBatchSize, maxWaitMs: trial.maxWaitMs, maxInFlight: trial.maxInFlight, maxLength, concurrency,
      requests: latencies.length, errors, seconds: round(elapsed), rps: round(latencies.length / elapsed, 1),
      p50_ms: round(quantile(latencies, 0.5), 2), p90_ms: round(quantile(latencies, 0.9), 2), p99_ms: round(quantile(latencies, 0.99), 2),
      forwardPasses: passes, meanBatch: round(items / Math.max(1, passes), 2),
      threads: info().intraOpThreads, cpu: os.cpus()[0]?.model.trim(), node: process.version,
    });
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

async function main(): Promise<void> {
  const gen = new CustomerServiceGenerator({ seed: 7 });
  const corpus = [...gen.unlabeled(4000)];
  const texts = corpus.slice(0, 1000).map((t) => t.split('\n')[0]);
  const model = flags.get('model') ?? (await makeModel(corpus));
  try {
    for (const concurrency of concurrencies) {
      for (const trial of TRIALS) {
        log(`${trial.name} (max batch ${trial.maxBatchSize}, wait ${trial.maxWaitMs} ms, ${trial.maxInFlight} in flight), ${concurrency} concurrent clients`);
        await runTrial(model, trial, concurrency, texts);
      }
    }
  } finally {
    if (!flags.has('model')) await rm(model, { recursive: true, force: true });
  }
}

await main();
