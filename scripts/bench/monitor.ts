/**
 * Sentiment-monitor benchmark: records/s end to end (generate -> topic match
 * -> micro-batched predictor -> windows -> turn detection) and the peak RSS
 * over a long stream, with a tiny classifier (1 layer, hidden 32, vocabulary
 * ~400: examples/sentiment-monitor's, fine-tuned first) or --model.
 *
 *   npx tsx scripts/bench/monitor.ts [--records 1000000] [--threads 2] [--model dir] [--batch 64]
 *
 * One JSON line: records/s over the whole stream, peak RSS (getrusage) and
 * RSS sampled every 100k records, windows and alerts, the other processes'
 * CPU load. Note: on a loaded machine libtorch's OpenMP threads spin-wait;
 * OMP_WAIT_POLICY=PASSIVE (recorded in the line) avoids that.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createPredictor, SentimentMonitor } from '../../lib/index.js';
import { GLOOM, TOPICS, newsStream, trainSentimentModel } from '../../examples/sentiment-monitor/headlines.js';
import { emit, envFields, intFlag, loadProbe, log, now, parseFlags, peakRssMB, round, rssMB, useThreads } from './common.js';

const flags = parseFlags(process.argv.slice(2));
const records = intFlag(flags, 'records', 1_000_000);
const threads = useThreads(flags.has('threads') ? flags : new Map([...flags, ['threads', '2']]));
let model = flags.get('model');
let tmp: string | undefined;
if (!model) {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'bertorch-bench-monitor-'));
  model = path.join(tmp, 'model');
  const acc = await trainSentimentModel(model, { seed: 1 });
  log(`tiny sentiment classifier (1 layer, hidden 32) fine-tuned: accuracy ${acc.toFixed(3)}`);
}
const predictor = await createPredictor(model, { maxBatchSize: intFlag(flags, 'batch', 64), maxLength: 32 });
const HOUR = 3_600_000;
const START = Date.UTC(2024, 0, 1);
const monitor = new SentimentMonitor({ classifier: predictor, topics: TOPICS, window: { size: HOUR, slide: HOUR / 4, allowedLateness: 5 * 60_000 }, minCount: 20, maxPending: 256 });
const rss: number[] = [];
async function* source() {
  let k = 0;
  // 300 records an hour; Acme turns halfway, so detection runs on real alerts too.
  for (const r of newsStream({ records, seed: 3, turn: { ticker: 'ACME', at: START + (records / 600) * HOUR, to: GLOOM } })) {
    if (++k % 100_000 === 0) {
      rss.push(round(rssMB(), 1));
      log(`${k} records, rss ${rss.at(-1)} MiB`);
    }
    yield r;
  }
}
const load = loadProbe();
const t0 = now();
const stats = await monitor.run(source());
const seconds = now() - t0;
await predictor.close();
emit({
  bench: 'monitor', records: stats.records, seconds: round(seconds, 1), recordsPerSecond: Math.round(stats.records / seconds),
  peakRssMB: round(peakRssMB(), 1), rssEvery100kMB: rss, windows: stats.windows, alerts: stats.alerts, openWindowsAtEnd: stats.openWindows,
  model: flags.get('model') ?? 'tiny (1 layer, hidden 32, vocab ~400, maxLength 32)', predictorStats: predictor.stats(),
  ompWaitPolicy: process.env.OMP_WAIT_POLICY ?? null, otherLoadCores: load(), ...envFields(threads),
});
if (tmp) await rm(tmp, { recursive: true, force: true });
