// SentimentMonitor: alerts at a known turn and never before, no alert on a
// stationary stream over hundreds of windows (with a fine-tuned model served
// by the micro-batched predictor), windows equal to a brute-force count,
// late and malformed records reported with their lines, bounded memory on a
// long stream, and backpressure from a slow model.
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createPredictor, setNumThreads, type Predictor } from '../lib/index.js';
import { MalformedRecord, SentimentMonitor, readRecords, type Alert, type WindowAggregate } from '../lib/monitor/index.js';
import { GLOOM, TOPICS, newsJsonl, newsStream, trainSentimentModel } from '../examples/sentiment-monitor/headlines.js';

// The machine is shared: one intra-op thread keeps libtorch from spinning against other jobs.
setNumThreads(1);
const HOUR = 3_600_000;
const START = Date.UTC(2024, 0, 1);

let dir: string;
let predictor: Predictor;
test.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'bertorch-monitor-'));
  const accuracy = await trainSentimentModel(path.join(dir, 'model'), { seed: 1 });
  if (accuracy < 0.9) throw new Error(`the sentiment model reached only ${accuracy} accuracy`);
  predictor = await createPredictor(path.join(dir, 'model'), { maxBatchSize: 64, maxLength: 32 });
});
test.after.always(async () => {
  await predictor?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

// A classifier by word lists (for tests of windows and memory that need many records fast): answers asynchronously, like a model.
const POSITIVE = /jump|beats|upgrade|rall|wins|cheer|record profit|high|soars|great/;
const NEGATIVE = /plunge|misses|probe|slump|recall|flee|loss|low|sinks|terrible/;
function lexicon(delayMs = 0) {
  return {
    labels: ['negative', 'neutral', 'positive'],
    predict: (text: string) => new Promise<{ label: string }>((resolve) => {
      const label = POSITIVE.test(text) ? 'positive' : NEGATIVE.test(text) ? 'negative' : 'neutral';
      if (delayMs > 0) setTimeout(() => resolve({ label }), delayMs);
      else setImmediate(() => resolve({ label }));
    }),
  };
}

function collect(monitor: SentimentMonitor) {
  const alerts: Alert[] = [];
  const windows: WindowAggregate[] = [];
  monitor.on('alert', (a) => alerts.push(a));
  monitor.on('window', (w) => windows.push(w));
  return { alerts, windows };
}

test.serial('an alert fires within one window of a known turn, and not before it', async (t) => {
  const turnAt = START + 16 * HOUR + 20 * 60_000; // 16:20, inside the 16:00 window
  const monitor = new SentimentMonitor({
    classifier: predictor, topics: TOPICS, window: { size: HOUR, allowedLateness: 5 * 60_000 }, minCount: 20,
  });
  const { alerts, windows } = collect(monitor);
  const stats = await monitor.run(newsStream({ records: 24 * 300, seed: 3, turn: { ticker: 'ACME', at: turnAt, to: GLOOM } }));
  t.is(stats.classified, 24 * 300 - stats.late);
  t.true(windows.length >= 5 * 23, `${windows.length} windows`);
  t.true(alerts.length >= 1, 'an alert');
  const first = alerts[0];
  t.like(first, { topic: 'ACME', direction: 'down' });
  t.true(first.windowEnd > turnAt, `alert window ends ${new Date(first.windowEnd).toISOString()}, after the turn`);
  t.true(first.windowStart <= turnAt + HOUR, `alert window starts ${new Date(first.windowStart).toISOString()}, within one window of the turn`);
  t.deepEqual(alerts.filter((a) => a.topic !== 'ACME'), [], 'no alert on the other topics');
  t.log(`turn at ${new Date(turnAt).toISOString()}; alerts: ${alerts.map((a) => `${a.topic} ${a.direction} [${new Date(a.windowStart).toISOString()}, ${new Date(a.windowEnd).toISOString()}) z=${a.z.toFixed(1)} ${a.detectors}`).join('; ')}`);
});

test.serial('a stationary stream raises no alert over hundreds of windows (tumbling and sliding)', async (t) => {
  const records = 100 * 300; // 100 hours
  for (const window of [{ size: HOUR / 2 }, { size: HOUR, slide: HOUR / 4 }]) {
    const monitor = new SentimentMonitor({ classifier: predictor, topics: TOPICS, window, minCount: 20 });
    const { alerts, windows } = collect(monitor);
    await monitor.run(newsStream({ records, seed: 11 }));
    const judged = windows.filter((w) => w.judged && w.z !== null).length;
    t.true(judged >= 900, `${judged} windows judged`);
    t.deepEqual(alerts, [], `no alert (window ${JSON.stringify(window)})`);
    const zs = windows.map((w) => Math.abs(w.z ?? 0));
    t.log(`window ${JSON.stringify(window)}: ${windows.length} windows, ${judged} judged, max |z| ${Math.max(...zs).toFixed(2)}`);
  }
});

test('windows hold exactly the records of their event-time range (sliding, with lateness), and late records are reported', async (t) => {
  const size = 20 * 60_000;
  const slide = 5 * 60_000;
  const lateness = 60_000;
  const recs = [...newsStream({ records: 3000, seed: 5, lateShare: 0.1, jitterMs: 30 * 60_000 })];
  const monitor = new SentimentMonitor({ classifier: lexicon(), topics: { field: 'ticker' }, window: { size, slide, allowedLateness: lateness }, minCount: 1 });
  const { windows } = collect(monitor);
  const late: number[] = [];
  monitor.on('late', (r) => late.push(r.line));
  const stats = await monitor.run(recs);
  // Brute force: replay the arrival order with the same watermark rule.
  let watermark = -Infinity;
  const expected = new Map<string, { n: number; sum: number }>();
  const expectLate: number[] = [];
  const label = (text: string) => (POSITIVE.test(text) ? 1 : NEGATIVE.test(text) ? -1 : 0);
  recs.forEach((r, k) => {
    let placed = false;
    for (let s = Math.floor(r.time / slide) * slide; s > r.time - size; s -= slide) {
      if (s + size <= watermark) continue;
      const key = `${r.ticker}@${s}`;
      const e = expected.get(key) ?? { n: 0, sum: 0 };
      e.n++;
      e.sum += label(r.text);
      expected.set(key, e);
      placed = true;
    }
    if (!placed) expectLate.push(k + 1);
    watermark = Math.max(watermark, r.time - lateness);
  });
  t.true(expectLate.length > 0, 'the stream has late records');
  t.deepEqual(late, expectLate);
  t.is(stats.late, expectLate.length);
  t.is(windows.length, expected.size);
  for (const w of windows) {
    const e = expected.get(`${w.topic}@${w.start}`);
    t.truthy(e, `window ${w.topic}@${w.start}`);
    t.is(w.count, e!.n);
    t.true(Math.abs(w.index - e!.sum / e!.n) < 1e-12);
    t.is(w.end - w.start, size);
    t.true(w.ciLow <= w.index && w.index <= w.ciHigh);
  }
  // Windows close in time order.
  t.deepEqual(windows.map((w) => w.start), [...windows.map((w) => w.start)].sort((a, b) => a - b));
});

test('malformed records are counted and reported with their line, and the stream goes on', async (t) => {
  const file = path.join(dir, 'bad.jsonl');
  const lines = [...newsJsonl({ records: 200, seed: 2 })];
  lines.splice(10, 0, '{"time": 1, "text": "unterminated');
  lines.splice(20, 0, '[1, 2]');
  lines.splice(30, 0, JSON.stringify({ text: 'Acme beats estimates', ticker: 'ACME' }));
  lines.splice(40, 0, JSON.stringify({ time: 'yesterday-ish', text: 'Acme beats estimates', ticker: 'ACME' }));
  lines.splice(50, 0, JSON.stringify({ time: START, text: '', ticker: 'ACME' }));
  lines.splice(60, 0, JSON.stringify({ time: START, text: 'Acme beats', ticker: 7 }));
  lines.splice(70, 0, '');
  await writeFile(file, lines.join('\n') + '\n');
  const monitor = new SentimentMonitor({ classifier: lexicon(), topics: { field: 'ticker' }, window: { size: HOUR }, minCount: 1 });
  const seen: Array<[number, string]> = [];
  monitor.on('malformed', (r) => seen.push([r.line, r.reason]));
  const stats = await monitor.run(readRecords(file));
  t.deepEqual(seen, [[11, 'bad_json'], [21, 'malformed'], [31, 'bad_time'], [41, 'bad_time'], [51, 'no_text'], [61, 'bad_topic']]);
  t.is(stats.malformed, 6);
  t.is(stats.classified + stats.late, 200);
  t.is(stats.skipped[0].line, 11);
  // A CSV with a broken quote costs that one line.
  const csv = path.join(dir, 'bad.csv');
  await writeFile(csv, 'time,text,ticker\n' + `${START},"Acme beats, again",ACME\n` + `${START + 1},"Acme "beats,ACME\n` + `${START + 2},Globex slumps,GLBX,extra\n` + `${START + 3},Globex slumps,GLBX\n`);
  const m2 = new SentimentMonitor({ classifier: lexicon(), topics: { field: 'ticker' }, window: { size: HOUR }, minCount: 1 });
  const bad: number[] = [];
  m2.on('malformed', (r) => bad.push(r.line));
  const s2 = await m2.run(readRecords(csv));
  t.deepEqual(bad, [3, 4]);
  t.is(s2.classified, 2);
  t.true(new MalformedRecord(1, 'x', 'y') instanceof MalformedRecord);
});

test('memory stays bounded over a long stream: old windows are evicted', async (t) => {
  const monitor = new SentimentMonitor({
    classifier: lexicon(), topics: TOPICS, window: { size: HOUR, slide: HOUR / 4, allowedLateness: 10 * 60_000 }, minCount: 5, maxPending: 64,
  });
  let windows = 0;
  let maxOpen = 0;
  const heap: number[] = [];
  monitor.on('window', () => {
    windows++;
    if (windows % 500 === 0) maxOpen = Math.max(maxOpen, monitor.stats().openWindows);
  });
  const total = 300_000;
  async function* source() {
    let k = 0;
    for (const r of newsStream({ records: total, seed: 9, gapMs: 3000 })) {
      if (++k % 50_000 === 0) {
        global.gc?.();
        heap.push(process.memoryUsage().heapUsed / 2 ** 20);
      }
      yield r;
    }
  }
  const stats = await monitor.run(source());
  t.is(stats.classified + stats.late, total);
  // Open windows: 5 topics x ceil((size + lateness) / slide) + 1 starts at most.
  t.true(maxOpen <= 5 * (Math.ceil((HOUR + 10 * 60_000) / (HOUR / 4)) + 1), `at most ${maxOpen} open windows`);
  t.true(windows > 5 * 900, `${windows} windows closed`);
  t.true(heap.at(-1)! - heap[0] < 16, `heap ${heap.map((h) => h.toFixed(1)).join(' -> ')} MiB`);
  t.log(`${total} records, ${windows} windows, max open ${maxOpen}, heap ${heap.map((h) => h.toFixed(1)).join(' -> ')} MiB`);
});

test('a slow model slows the reader: at most maxPending records in flight, none dropped', async (t) => {
  const maxPending = 16;
  const monitor = new SentimentMonitor({ classifier: lexicon(2), topics: { field: 'ticker' }, window: { size: HOUR }, minCount: 1, maxPending });
  let pulled = 0;
  let worst = 0;
  let done = 0;
  monitor.on('window', (w) => { done += w.count; });
  async function* source() {
    for (const r of newsStream({ records: 400, seed: 4, lateShare: 0 })) {
      worst = Math.max(worst, monitor.stats().pending);
      pulled++;
      yield r;
    }
  }
  const t0 = Date.now();
  const stats = await monitor.run(source());
  t.true(worst <= maxPending, `pending peaked at ${worst}`);
  t.is(pulled, 400);
  t.is(stats.classified, 400);
  t.is(done, 400, 'every record is in a window');
  t.true(Date.now() - t0 >= 2, 'it waited for the model');
});

test('options are checked with messages that name them', (t) => {
  const classifier = lexicon();
  t.throws(() => new SentimentMonitor({ classifier, topics: TOPICS, window: { size: 0 } }), { instanceOf: RangeError, message: /window\.size/ });
  t.throws(() => new SentimentMonitor({ classifier, topics: TOPICS, window: { size: 10, slide: 20 } }), { instanceOf: RangeError, message: /window\.slide/ });
  t.throws(() => new SentimentMonitor({ classifier: { predict: classifier.predict, labels: ['a', 'b'] }, topics: TOPICS, window: { size: 10 } }), { instanceOf: TypeError, message: /scores/ });
  t.throws(() => new SentimentMonitor({ classifier, topics: TOPICS, window: { size: 10 }, scores: { negative: -1, positive: 1 } }), { instanceOf: RangeError, message: /every label/ });
  t.throws(() => new SentimentMonitor({ classifier, topics: { ACME: [] }, window: { size: 10 } }), { instanceOf: TypeError, message: /topics\.ACME/ });
});
