// bertorch monitor: sentiment per topic and time window over a JSONL/CSV
// stream (a file, a growing file with --follow, or stdin), alerts as JSON
// lines on stdout, per-window aggregates as CSV or Parquet, and report.html.

import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import YAML from 'yaml';
import { readRecords, parseDuration, SentimentMonitor, writeMonitorReport, type Alert, type TopicSeries, type TopicSpec, type WindowAggregate } from '../monitor/index.js';
import { createPredictor } from '../serve/index.js';
import { openAggregates, type AggregateSink } from './aggregates.js';
import { mustExist, say, type Command, type Io } from './command.js';
import { b, COMMON, i, n, s, UsageError, type Values } from './options.js';

export const monitorCommand: Command = {
  summary: 'Follows sentiment per topic over a JSONL/CSV stream and prints an alert line when it turns.',
  usage: 'bertorch monitor --model <dir> (--topics <file|A=kw,kw;B=kw> | --topic-field <field>) [--input <file>|-] [--follow] [options]',
  options: {
    model: s('fine-tuned sentiment classifier (HF folder with tokenizer files)', { required: true }),
    input: s('JSONL or CSV records ({time, text, ...}); - or none reads stdin', { default: '-' }),
    follow: b('keep reading --input as it grows (as tail -f) until Ctrl-C'),
    format: s('input format (auto: .csv is CSV, else JSONL)', { default: 'auto', choices: ['auto', 'jsonl', 'csv'] }),
    topics: s('topics as keywords/tickers: a JSON/YAML file {"ACME": ["acme", "$ACME"]} or inline ACME=acme,$ACME;GLBX=globex'),
    'topic-field': s('take each record\'s topic(s) from this field instead of --topics'),
    'text-field': s('field of the text', { default: 'text' }),
    'time-field': s('field of the event time (ms since the epoch, ISO 8601, or seconds with --time-unit s)', { default: 'time' }),
    'time-unit': s('unit of a numeric time', { default: 'ms', choices: ['ms', 's'] }),
    window: s('window length (500ms, 30s, 15m, 1h, 1d)', { default: '1h' }),
    slide: s('distance between window starts: below --window the windows overlap (default: --window, tumbling)'),
    'allowed-lateness': s('how far behind the newest event time a record may arrive and still count', { default: '0' }),
    scores: { kind: 'list', help: 'label=score pairs (default: positive=1, neutral=0, negative=-1 by label name)' },
    scoring: s("a record's score: its predicted label's, or the probability-weighted mean", { default: 'label', choices: ['label', 'expected'] }),
    'min-count': i('fewest records a window needs to be judged for a turn', 20),
    confidence: n('coverage of the index\'s confidence interval', 0.95),
    'z-threshold': n('|z| against the rolling baseline that is a turn', 4),
    'cusum-k': n('CUSUM slack, in standard deviations', 0.5),
    'cusum-h': n('CUSUM decision interval, in standard deviations (0: off)', 8),
    'baseline-windows': i('windows in the rolling baseline', 24),
    'min-baseline-windows': i('windows the baseline needs before judging', 8),
    aggregates: s('write per-window aggregates to this CSV file, or Parquet (typed columns) for a path ending in .parquet'),
    report: s('write report.html (one trend chart per topic, alerts marked) here at the end'),
    'report-windows': i('newest windows per topic kept for the report', 5000),
    'batch-size': i('most texts per forward pass', 32),
    'max-length': i('tokens per text', 128),
    'max-pending': i('records being classified at once (the read-ahead)', 128),
    'poll-ms': i('--follow: how often the file is checked for new lines', 200),
    ...COMMON,
  },
  run: monitor,
};

/** --topics as a file (JSON/YAML object of keyword lists) or inline `A=kw,kw;B=kw`. */
async function topicSpec(v: Values): Promise<TopicSpec> {
  if (v.topicField) {
    if (v.topics) throw new UsageError('--topics and --topic-field exclude each other');
    return { field: v.topicField };
  }
  if (!v.topics) throw new UsageError('missing --topics or --topic-field (which records are about which topic)');
  const isFile = await stat(v.topics).then((st) => st.isFile(), () => false);
  if (isFile) {
    const text = await readFile(v.topics, 'utf8');
    let data: unknown;
    try { data = /\.ya?ml$/i.test(v.topics) ? YAML.parse(text) : JSON.parse(text); } catch (e) { throw new UsageError(`--topics ${v.topics}: ${(e as Error).message}`); }
    return data as TopicSpec;
  }
  const spec: Record<string, string[]> = {};
  for (const part of String(v.topics).split(';').map((x) => x.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new UsageError(`Expected TOPIC=keyword,keyword for --topics but received ${JSON.stringify(part)} (or a file that does not exist)`);
    spec[part.slice(0, eq).trim()] = part.slice(eq + 1).split(',').map((x) => x.trim()).filter(Boolean);
  }
  return spec;
}

function duration(text: string, flag: string): number {
  try { return parseDuration(text); } catch { throw new UsageError(`Expected a duration such as 30s, 15m or 1h for --${flag} but received ${JSON.stringify(text)}`); }
}

function scoreMap(list: string[] | undefined): Record<string, number> | undefined {
  if (!list?.length) return undefined;
  return Object.fromEntries(list.map((p) => {
    const [label, value] = p.split('=');
    const x = Number(value);
    if (!label || value === undefined || !Number.isFinite(x)) throw new UsageError(`Expected label=number for --scores but received ${JSON.stringify(p)}`);
    return [label.trim(), x];
  }));
}

const iso = (ms: number) => new Date(ms).toISOString();

async function monitor(v: Values, io: Io): Promise<number> {
  await mustExist(v.model, '--model');
  if (v.follow && v.input === '-') throw new UsageError('--follow needs --input <file>');
  await mustExist(v.input, '--input');
  const topics = await topicSpec(v);
  const size = duration(v.window, 'window');
  const slide = v.slide ? duration(v.slide, 'slide') : undefined;
  const lateness = duration(v.allowedLateness, 'allowed-lateness');
  const predictor = await createPredictor(v.model, { maxBatchSize: v.batchSize, maxLength: v.maxLength, maxWaitMs: 2, device: v.device === 'cpu' ? undefined : v.device });
  let sink: AggregateSink | undefined;
  const ac = new AbortController();
  const onSigint = () => ac.abort();
  process.once('SIGINT', onSigint);
  const source = v.input === '-' ? 'stdin' : v.input;
  try {
    let m: SentimentMonitor;
    try {
      m = new SentimentMonitor({
        classifier: predictor, topics, scores: scoreMap(v.scores), scoring: v.scoring,
        window: { size, slide, allowedLateness: lateness }, minCount: v.minCount, confidence: v.confidence, maxPending: v.maxPending,
        detection: { zThreshold: v.zThreshold, cusumK: v.cusumK, cusumH: v.cusumH, baselineWindows: v.baselineWindows, minBaselineWindows: v.minBaselineWindows },
        timeField: v.timeField, textField: v.textField, timeUnit: v.timeUnit,
      });
    } catch (e) {
      if (e instanceof TypeError || e instanceof RangeError) throw new UsageError(e.message);
      throw e;
    }
    const labels = Object.keys(m.scores);
    if (v.aggregates) sink = await openAggregates(v.aggregates, labels);
    const series = new Map<string, TopicSeries>();
    const seriesOf = (topic: string) => {
      let ts = series.get(topic);
      if (!ts) series.set(topic, (ts = { topic, windows: [], alerts: [] }));
      return ts;
    };
    m.on('window', (w: WindowAggregate) => {
      const ts = seriesOf(w.topic);
      ts.windows.push({ start: w.start, end: w.end, index: w.index, ciLow: w.ciLow, ciHigh: w.ciHigh, count: w.count });
      if (ts.windows.length > v.reportWindows) ts.windows.shift();
      sink?.write(w);
    });
    m.on('alert', (a: Alert) => {
      const ts = seriesOf(a.topic);
      ts.alerts.push({ windowEnd: a.windowEnd, index: a.index, direction: a.direction, detectors: a.detectors });
      if (ts.alerts.length > v.reportWindows) ts.alerts.shift();
      io.stdout.write(JSON.stringify({
        type: 'alert', topic: a.topic, direction: a.direction, detectors: a.detectors, windowStart: iso(a.windowStart), windowEnd: iso(a.windowEnd),
        index: a.index, baselineMean: a.baselineMean, baselineSd: a.baselineSd, z: a.z, cusum: a.cusum, count: a.count,
      }) + '\n');
    });
    let reported = 0;
    const skipped = (r: { line: number; reason: string; message: string }) => {
      if (++reported <= 100) say(io, v, `${source}:${r.line}: skipped (${r.reason}) ${r.message}`);
      else if (reported === 101) say(io, v, 'more skipped records: counted, not listed');
    };
    m.on('malformed', skipped);
    m.on('late', skipped);
    say(io, v, `monitoring ${source}${v.follow ? ' (following; Ctrl-C ends)' : ''}: windows of ${v.window}${slide ? ` every ${v.slide}` : ''}, lateness ${v.allowedLateness}, labels ${labels.map((l) => `${l}=${m.scores[l]}`).join(' ')}`);
    const format = v.format === 'auto' ? undefined : v.format;
    const t0 = performance.now();
    const stats = await m.run(readRecords(v.input === '-' ? io.stdin : v.input, { format, follow: v.follow, signal: ac.signal, pollMs: v.pollMs }),
      // Following, Ctrl-C ends the reader after the lines already written; otherwise it stops at once.
      { signal: v.follow ? undefined : ac.signal });
    const seconds = (performance.now() - t0) / 1000;
    await sink?.close();
    sink = undefined;
    if (v.report) {
      await writeMonitorReport(v.report, {
        title: `Sentiment monitor: ${path.basename(source)}`, topics: [...series.values()].sort((a, b) => a.topic.localeCompare(b.topic)), stats,
        config: { model: v.model, input: v.input, window: v.window, slide: v.slide ?? v.window, allowedLateness: v.allowedLateness, minCount: v.minCount, detection: m.detection, scores: m.scores },
      });
    }
    say(io, v, `${stats.records} records in ${seconds.toFixed(1)} s (${Math.round(stats.records / Math.max(seconds, 1e-9))}/s): ${stats.classified} classified, ${stats.unmatched} about no topic, ` +
      `${stats.malformed} malformed, ${stats.late} late; ${stats.windows} windows, ${stats.alerts} alerts${v.aggregates ? ` -> ${v.aggregates}` : ''}${v.report ? `, ${v.report}` : ''}`);
    return ac.signal.aborted && !v.follow ? 130 : 0;
  } finally {
    process.off('SIGINT', onSigint);
    await sink?.abort();
    await predictor.close();
  }
}

