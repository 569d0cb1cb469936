// Sentiment monitoring over a generated news stream where one company's
// sentiment turns at a known time: fine-tunes a tiny classifier, serves it
// with the micro-batched predictor, runs SentimentMonitor over 24 hours of
// headlines (hour windows, 5 minutes' lateness) and checks that the alert
// fires within one window of the turn and not before it.
//   npx tsx examples/sentiment-monitor/run.ts [--out dir]
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createPredictor, SentimentMonitor, writeMonitorReport, type Alert, type TopicSeries } from '../../lib/index.js';
import { GLOOM, TOPICS, newsStream, trainSentimentModel } from './headlines.js';

const HOUR = 3_600_000;
const START = Date.UTC(2024, 0, 1);
const TURN = START + 16 * HOUR + 20 * 60_000; // Acme's news turn bad at 16:20
const outArg = process.argv.indexOf('--out');
const out = outArg > 0 ? process.argv[outArg + 1] : await mkdtemp(path.join(tmpdir(), 'bertorch-sentiment-'));

const accuracy = await trainSentimentModel(path.join(out, 'model'), { seed: 1 });
console.log(`sentiment classifier: held-out accuracy ${accuracy.toFixed(3)}`);
const predictor = await createPredictor(path.join(out, 'model'), { maxBatchSize: 64, maxLength: 32 });
const monitor = new SentimentMonitor({
  classifier: predictor, topics: TOPICS, window: { size: HOUR, allowedLateness: 5 * 60_000 }, minCount: 20,
});
const series = new Map<string, TopicSeries>();
const alerts: Alert[] = [];
monitor.on('window', (w) => {
  if (!series.has(w.topic)) series.set(w.topic, { topic: w.topic, windows: [], alerts: [] });
  series.get(w.topic)!.windows.push(w);
});
monitor.on('alert', (a) => {
  alerts.push(a);
  series.get(a.topic)!.alerts.push(a);
  console.log(JSON.stringify({ ...a, windowStart: new Date(a.windowStart).toISOString(), windowEnd: new Date(a.windowEnd).toISOString() }));
});
const t0 = performance.now();
const stats = await monitor.run(newsStream({ records: 24 * 300, seed: 3, turn: { ticker: 'ACME', at: TURN, to: GLOOM } }));
const seconds = (performance.now() - t0) / 1000;
await predictor.close();
await writeMonitorReport(path.join(out, 'report.html'), { title: 'Sentiment monitor example', topics: [...series.values()], stats });

console.log(`${stats.records} records in ${seconds.toFixed(1)} s (${Math.round(stats.records / seconds)}/s), ${stats.windows} windows, ${stats.late} late, ${stats.alerts} alerts; report: ${path.join(out, 'report.html')}`);
const first = alerts[0];
const ok = first !== undefined && first.topic === 'ACME' && first.direction === 'down' && first.windowEnd > TURN && first.windowStart <= TURN + HOUR
  && alerts.every((a) => a.topic === 'ACME');
console.log(ok
  ? `turn at ${new Date(TURN).toISOString()}: alert for ACME in the window ${new Date(first.windowStart).toISOString()} .. ${new Date(first.windowEnd).toISOString()} (within one window, none before)`
  : `FAILED: expected the first alert for ACME within one window after ${new Date(TURN).toISOString()}`);
process.exitCode = ok ? 0 : 1;
