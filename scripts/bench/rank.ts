/**
 * Ranker scoring benchmark: pairs/s of CrossEncoderRanker.score() (tokenize
 * + forward, from strings, input order kept) against a HuggingFace
 * cross-encoder of the same size on the same threads, side by side: the same
 * model folder (a random-init BertForSequenceClassification of --preset with
 * bert-base-uncased's WordPiece vocabulary from test/fixtures/hf-folders) and
 * the same generated (context, item) pairs, scored by peer_rank.py with
 * sentence-transformers' CrossEncoder.predict and with plain transformers.
 *
 *   npx tsx scripts/bench/rank.ts [--preset mini] [--pairs 4000] [--threads 2] [--batch 64] [--reps 3] [--no-peer]
 *
 * JSON lines: ours, each peer, and the ratio (ours / peer; > 1 is faster).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BertForSequenceClassification, CrossEncoderRanker, PRESETS, Tokenizer } from '../../lib/index.js';
import { clickLog } from '../../examples/recommend/clicks.js';
import { emit, envFields, intFlag, loadProbe, log, median, now, parseFlags, ROOT, round, runPeer, useThreads } from './common.js';

const flags = parseFlags(process.argv.slice(2));
const preset = (flags.get('preset') ?? 'mini') as keyof typeof PRESETS;
const nPairs = intFlag(flags, 'pairs', 4000);
const batch = intFlag(flags, 'batch', 64);
const reps = intFlag(flags, 'reps', 3);
const threads = useThreads(flags.has('threads') ? flags : new Map([...flags, ['threads', '2']]));
const dir = await mkdtemp(path.join(os.tmpdir(), 'bertorch-bench-rank-'));
try {
  const tokenizer = await Tokenizer.fromPretrained(path.join(ROOT, 'test', 'fixtures', 'hf-folders', 'bert-plain'));
  const model = BertForSequenceClassification.create({
    ...PRESETS[preset], vocab_size: tokenizer.vocabSize, id2label: { 0: 'not_clicked', 1: 'clicked' }, label2id: { not_clicked: 0, clicked: 1 },
  }, { seed: 1 });
  await model.savePretrained(dir);
  await tokenizer.save(dir);
  model.dispose();
  const clicks = clickLog({ contexts: Math.ceil(nPairs / 20), seed: 5 }).slice(0, nPairs);
  const pairs = clicks.map((c) => [c.context, c.item] as [string, string]);
  await writeFile(path.join(dir, 'pairs.json'), JSON.stringify(pairs));
  log(`${preset} cross-encoder, ${pairs.length} pairs, batch ${batch}, ${threads} threads -> ${dir}`);

  const ranker = await CrossEncoderRanker.fromPretrained(dir, { batchSize: batch, maxLength: 128 });
  await ranker.score(pairs.slice(0, batch * 2)); // warm-up
  const probe = loadProbe();
  const rates: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = now();
    await ranker.score(pairs);
    rates.push(pairs.length / (now() - t0));
  }
  const load = probe();
  ranker.dispose();
  const ours = round(median(rates), 1);
  emit({ bench: 'rank', impl: 'bertorch CrossEncoderRanker.score', preset, pairs: pairs.length, batch, pairsPerSecond: ours, best: round(Math.max(...rates), 1), otherLoadCores: load, ...envFields(threads) });
  if (!flags.has('no-peer')) {
    const peers = await runPeer('peer_rank.py', ['--model', dir, '--pairs', path.join(dir, 'pairs.json'), '--threads', String(threads), '--batch', String(batch), '--reps', String(reps)]);
    for (const p of peers) {
      emit({ ...p, preset, pairs: pairs.length, batch });
      emit({ bench: 'rank', ratio: `bertorch / ${p.impl}`, value: round(ours / (p.pairsPerSecond as number), 2), goal: 1.3 });
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
