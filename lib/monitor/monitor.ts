/**
 * SentimentMonitor: follows the sentiment of topics over a stream of
 * timestamped texts. Each record ({ time, text, ...fields }) is matched to
 * its topics, classified by a fine-tuned model through the micro-batched
 * predictor (lib/serve), mapped to a score (positive +1, neutral 0, negative
 * -1, or any mapping of the model's labels), and added to its topics' event-
 * time windows (windows.ts). When a window closes it is emitted with its
 * counts, sentiment index (the mean score) and a confidence interval, then
 * judged for a turn (detect.ts); a turn is emitted as an alert.
 *
 * Flow control: at most `maxPending` records are being classified at once;
 * the monitor pulls the next record only when there is room, so a slow model
 * slows the reader and nothing is dropped. Records are applied in the order
 * read. A malformed record (no valid time, no text, a topic field of the
 * wrong type) or one too late for any open window is counted, reported with
 * its line ('malformed' / 'late' events) and skipped; the stream goes on.
 * Memory is bounded on an endless stream: only open windows and each topic's
 * baseline (a few dozen numbers) are held.
 */
import { EventEmitter } from 'node:events';
import { optionalInteger, optionalNumber, optionsObject, rangeError, typeError } from '../validate.js';
import { DETECTION_DEFAULTS, TurnDetector, type DetectionOptions, type ResolvedDetection } from './detect.js';
import { normalQuantile } from './stats.js';
import { TopicMatcher, type TopicSpec } from './topics.js';
import { WindowStore, type ClosedWindow } from './windows.js';

/** A record of the stream: an event time, a text, and any other fields. */
export interface MonitorRecord {
  /** Event time: milliseconds since the Unix epoch (seconds with `timeUnit: 's'`), an ISO 8601 string, or a Date. */
  time: number | string | Date;
  text: string;
  [field: string]: unknown;
}

/** The line (or ordinal) of a record, set by the readers of reader.ts; reports name it. */
export const RECORD_LINE: unique symbol = Symbol.for('bertorch.monitor.line');

/** A record a reader could not parse (bad JSON, a broken CSV row): passed through the stream so it is counted and reported in order. */
export class MalformedRecord {
  constructor(readonly line: number, readonly reason: string, readonly message: string) {}
}

/** What a classifier answers for a text: the predictor's single-label answer. */
export interface ClassifierAnswer {
  label: string;
  probabilities?: Record<string, number>;
}

/** The model: a lib/serve Predictor of a sequence classifier, or anything with the same predict(). */
export interface SentimentClassifier {
  predict(text: string): Promise<unknown>;
  /** Label names (a Predictor has them); checked against `scores`. */
  readonly labels?: readonly string[];
}

/** Window sizes in milliseconds. */
export interface WindowOptions {
  /** Window length. */
  size: number;
  /** Distance between window starts; below `size` the windows overlap (sliding). @default size (tumbling) */
  slide?: number;
  /** How far behind the newest event time a record may arrive and still be counted. @default 0 */
  allowedLateness?: number;
  /** Windows start at origin + k * slide. @default 0 (the Unix epoch) */
  origin?: number;
}

/** Options of {@link SentimentMonitor}. */
export interface SentimentMonitorOptions {
  classifier: SentimentClassifier;
  /** Topics: keyword / ticker lists per topic, or `{ field: 'ticker' }` to take a record field. */
  topics: TopicSpec;
  window: WindowOptions;
  /**
   * The score of each label. @default +1 for a label whose name contains "pos",
   * -1 for "neg", 0 for "neu" (case-insensitive); other label sets must give it.
   */
  scores?: Record<string, number>;
  /** A record's score: its predicted label's ('label'), or the probability-weighted mean over labels ('expected'). @default 'label' */
  scoring?: 'label' | 'expected';
  /** Fewest records a window needs to be judged (and to enter the baseline). @default 20 */
  minCount?: number;
  /** Coverage of the index's confidence interval (normal approximation). @default 0.95 */
  confidence?: number;
  detection?: DetectionOptions;
  /** Records being classified at once (the read-ahead). @default 128 */
  maxPending?: number;
  /** Most distinct topics followed; records of further topics are counted as `overflow`. @default 10000 */
  maxTopics?: number;
  /** Unit of a numeric time. @default 'ms' */
  timeUnit?: 'ms' | 's';
  /** Field of the time. @default 'time' */
  timeField?: string;
  /** Field of the text. @default 'text' */
  textField?: string;
}

/** A closed window of one topic. Times are milliseconds since the epoch. */
export interface WindowAggregate {
  topic: string;
  start: number;
  end: number;
  count: number;
  /** Records per predicted label. */
  counts: Record<string, number>;
  /** The sentiment index: the mean score of the window's records. */
  index: number;
  /** The index's confidence interval (clipped to the score range). */
  ciLow: number;
  ciHigh: number;
  /** Whether the window had minCount records and was judged for a turn. */
  judged: boolean;
  /** Deviation from the topic's baseline in standard deviations (null when not judged or before the baseline is ready). */
  z: number | null;
  baselineMean: number | null;
  cusumUp: number;
  cusumDown: number;
}

/** A turn in a topic's sentiment. */
export interface Alert {
  topic: string;
  /** 'down': sentiment fell; 'up': it rose. */
  direction: 'up' | 'down';
  /** The detectors that fired: a z-score against the rolling baseline, and/or CUSUM. */
  detectors: Array<'zscore' | 'cusum'>;
  windowStart: number;
  windowEnd: number;
  index: number;
  baselineMean: number;
  baselineSd: number;
  z: number;
  cusum: number;
  count: number;
}

/** A record that was skipped, with its line (or ordinal in the stream). */
export interface SkippedRecord {
  line: number;
  reason: 'malformed' | 'bad_time' | 'no_text' | 'bad_topic' | 'late' | string;
  message: string;
}

/** Counters of a monitor. */
export interface MonitorStats {
  /** Items read from the source. */
  records: number;
  classified: number;
  malformed: number;
  late: number;
  /** Records about no topic (not classified). */
  unmatched: number;
  /** Records whose only topics were over maxTopics. */
  overflow: number;
  windows: number;
  alerts: number;
  /** Open windows (topic x start) held now; bounded. */
  openWindows: number;
  /** Records being classified now; at most maxPending. */
  pending: number;
  topics: number;
  /** Newest event time minus the allowed lateness (ms). */
  watermark: number;
  /** The first skipped records (up to 100), for reports. */
  skipped: SkippedRecord[];
}

export interface MonitorEvents {
  window: [WindowAggregate];
  alert: [Alert];
  malformed: [SkippedRecord];
  late: [SkippedRecord];
}

const KEPT_SKIPPED = 100;

interface Pending {
  time: number;
  topics: string[];
  line: number;
  answer: Promise<unknown>;
}

/**
 * Follows sentiment per topic and time window and raises alerts when it turns.
 * @example
 * const predictor = await createPredictor('out/finance-sentiment');
 * const monitor = new SentimentMonitor({
 *   classifier: predictor, topics: { ACME: ['acme', '$ACME'] }, window: { size: 3_600_000 },
 * });
 * monitor.on('alert', (a) => console.log(JSON.stringify(a)));
 * await monitor.run(records); // an async iterable of { time, text }
 */
export class SentimentMonitor extends EventEmitter<MonitorEvents> {
  readonly classifier: SentimentClassifier;
  readonly scores: Readonly<Record<string, number>>;
  readonly scoring: 'label' | 'expected';
  readonly minCount: number;
  readonly confidence: number;
  readonly detection: ResolvedDetection;
  readonly maxPending: number;
  readonly maxTopics: number;
  readonly matcher: TopicMatcher;
  readonly #store: WindowStore;
  readonly #detectors = new Map<string, TurnDetector>();
  readonly #z: number;
  readonly #scoreRange: [number, number];
  readonly #timeScale: number;
  readonly #timeField: string;
  readonly #textField: string;
  #pending = 0;
  #running = false;
  readonly #stats = { records: 0, classified: 0, malformed: 0, late: 0, unmatched: 0, overflow: 0, windows: 0, alerts: 0 };
  readonly #skipped: SkippedRecord[] = [];

  /** @throws {TypeError} / {RangeError} for bad options, naming the option. */
  constructor(options: SentimentMonitorOptions) {
    super();
    const o = optionsObject(options, 'options');
    const c = o.classifier;
    if (c === null || typeof c !== 'object' || typeof c.predict !== 'function') throw typeError('a classifier with predict() (a Predictor)', 'classifier', c);
    this.classifier = c;
    this.matcher = new TopicMatcher(o.topics as TopicSpec);
    this.scores = Object.freeze(scoreMap(o.scores, c.labels));
    const values = Object.values(this.scores);
    this.#scoreRange = [Math.min(...values), Math.max(...values)];
    this.scoring = o.scoring ?? 'label';
    if (this.scoring !== 'label' && this.scoring !== 'expected') throw typeError("'label' or 'expected'", 'scoring', o.scoring);
    const w = optionsObject(o.window, 'window');
    const size = positive(w.size, 'window.size');
    const slide = w.slide === undefined ? size : positive(w.slide, 'window.slide');
    if (slide > size) throw rangeError(`a number <= window.size (${size})`, 'window.slide', slide);
    const lateness = optionalNumber(w.allowedLateness, 'window.allowedLateness', 0, 0, Number.MAX_SAFE_INTEGER);
    this.#store = new WindowStore(size, slide, lateness, optionalNumber(w.origin, 'window.origin', 0, -8.64e15, 8.64e15));
    this.minCount = optionalInteger(o.minCount, 'minCount', 20, 1);
    this.confidence = optionalNumber(o.confidence, 'confidence', 0.95, 0.5, 0.999999);
    this.#z = normalQuantile((1 + this.confidence) / 2);
    const d = optionsObject(o.detection, 'detection');
    this.detection = {
      baselineWindows: optionalInteger(d.baselineWindows, 'detection.baselineWindows', DETECTION_DEFAULTS.baselineWindows, 2, 1e6),
      minBaselineWindows: optionalInteger(d.minBaselineWindows, 'detection.minBaselineWindows', DETECTION_DEFAULTS.minBaselineWindows, 2, 1e6),
      zThreshold: optionalNumber(d.zThreshold, 'detection.zThreshold', DETECTION_DEFAULTS.zThreshold, 0.1, 1e6),
      cusumK: optionalNumber(d.cusumK, 'detection.cusumK', DETECTION_DEFAULTS.cusumK, 0, 1e6),
      cusumH: optionalNumber(d.cusumH, 'detection.cusumH', DETECTION_DEFAULTS.cusumH, 0, 1e6),
    };
    if (this.detection.minBaselineWindows > this.detection.baselineWindows) {
      throw rangeError(`an integer <= detection.baselineWindows (${this.detection.baselineWindows})`, 'detection.minBaselineWindows', this.detection.minBaselineWindows);
    }
    this.maxPending = optionalInteger(o.maxPending, 'maxPending', 128, 1);
    this.maxTopics = optionalInteger(o.maxTopics, 'maxTopics', 10_000, 1);
    if (o.timeUnit !== undefined && o.timeUnit !== 'ms' && o.timeUnit !== 's') throw typeError("'ms' or 's'", 'timeUnit', o.timeUnit);
    this.#timeScale = o.timeUnit === 's' ? 1000 : 1;
    this.#timeField = o.timeField ?? 'time';
    this.#textField = o.textField ?? 'text';
  }

  /** The window sizes in use (ms). */
  get window(): { size: number; slide: number; allowedLateness: number; origin: number } {
    const s = this.#store;
    return { size: s.size, slide: s.slide, allowedLateness: s.lateness, origin: s.origin };
  }

  /** Counters so far. */
  stats(): MonitorStats {
    return {
      ...this.#stats, openWindows: this.#store.openWindows, pending: this.#pending, topics: this.#detectors.size,
      watermark: this.#store.watermark, skipped: [...this.#skipped],
    };
  }

  /**
   * Reads the stream to its end (or until `signal` aborts), then closes the
   * windows still open (unless `flush: false`). Resolves with the counters.
   * @throws the classifier's error if a prediction fails (the stream stops: that is not a bad record);
   *   {Error} if the monitor is already running.
   */
  async run(source: AsyncIterable<unknown> | Iterable<unknown>, { signal, flush = true }: { signal?: AbortSignal; flush?: boolean } = {}): Promise<MonitorStats> {
    if (source === null || typeof source !== 'object' || !(Symbol.asyncIterator in source || Symbol.iterator in source)) {
      throw typeError('an iterable or async iterable of records', 'source', source);
    }
    if (this.#running) throw new Error('SentimentMonitor.run() is already running');
    this.#running = true;
    const queue: Pending[] = [];
    try {
      for await (const item of source as AsyncIterable<unknown>) {
        const p = this.#accept(item);
        if (p) queue.push(p);
        while (queue.length >= this.maxPending) await this.#apply(queue.shift()!);
        if (signal?.aborted) break;
      }
      while (queue.length) await this.#apply(queue.shift()!);
    } finally {
      // On an error, let the answers in flight settle without being reported as unhandled.
      for (const p of queue) p.answer.catch(() => {});
      this.#pending = 0;
      this.#running = false;
    }
    if (flush) this.#close(true);
    return this.stats();
  }

  // Validates and matches a record and starts its prediction; undefined when it is skipped.
  #accept(item: unknown): Pending | undefined {
    const n = ++this.#stats.records;
    if (item instanceof MalformedRecord) return void this.#skip('malformed', { line: item.line, reason: item.reason, message: item.message });
    const rec = item as Record<string | symbol, unknown>;
    const line = typeof rec?.[RECORD_LINE] === 'number' ? (rec[RECORD_LINE] as number) : n;
    if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) {
      return void this.#skip('malformed', { line, reason: 'malformed', message: `not an object: ${typeof item}` });
    }
    const time = this.#time(rec[this.#timeField]);
    if (time === undefined) return void this.#skip('malformed', { line, reason: 'bad_time', message: `no valid "${this.#timeField}": ${JSON.stringify(rec[this.#timeField]) ?? 'undefined'}` });
    const text = rec[this.#textField];
    if (typeof text !== 'string' || text.trim() === '') return void this.#skip('malformed', { line, reason: 'no_text', message: `no text in "${this.#textField}"` });
    const found = this.matcher.topicsOf(rec as Record<string, unknown>, text);
    if (found === undefined) return void this.#skip('malformed', { line, reason: 'bad_topic', message: `"${this.matcher.field}" is not a string or an array of strings` });
    if (found.length === 0) {
      this.#stats.unmatched++;
      return undefined;
    }
    const topics = found.filter((t) => this.#detectors.has(t) || this.#detectors.size < this.maxTopics);
    if (topics.length === 0) {
      this.#stats.overflow++;
      return undefined;
    }
    for (const t of topics) if (!this.#detectors.has(t)) this.#detectors.set(t, new TurnDetector(this.detection, this.#store));
    const answer = this.classifier.predict(text);
    answer.catch(() => {}); // awaited in order by #apply
    this.#pending++;
    return { time, topics, line, answer };
  }

  // Adds a classified record to its windows, moves the watermark and closes what it passed.
  async #apply(p: Pending): Promise<void> {
    const answer = await p.answer;
    this.#pending--;
    this.#stats.classified++;
    const { score, label } = this.#score(answer);
    if (!this.#store.add(p.time, p.topics, score, label)) {
      this.#skip('late', { line: p.line, reason: 'late', message: `time ${new Date(p.time).toISOString()} is before the watermark ${new Date(this.#store.watermark).toISOString()} (every window it belongs to had closed)` });
    }
    this.#store.advance(p.time);
    this.#close(false);
  }

  #score(answer: unknown): { score: number; label: string } {
    const a = answer as ClassifierAnswer;
    if (a === null || typeof a !== 'object' || typeof a.label !== 'string') {
      throw typeError('a single-label answer { label, probabilities } from the classifier', 'classifier.predict()', answer);
    }
    if (!(a.label in this.scores)) throw rangeError(`a label with a score (${Object.keys(this.scores).join(', ')})`, 'the predicted label', a.label);
    if (this.scoring === 'label' || !a.probabilities) return { score: this.scores[a.label], label: a.label };
    let s = 0;
    for (const [l, p] of Object.entries(a.probabilities)) s += p * (this.scores[l] ?? 0);
    return { score: s, label: a.label };
  }

  #time(v: unknown): number | undefined {
    let t: number;
    if (typeof v === 'number') t = v * this.#timeScale;
    else if (v instanceof Date) t = v.getTime();
    else if (typeof v === 'string' && v.trim() !== '') t = /^-?\d+(\.\d+)?$/.test(v.trim()) ? Number(v) * this.#timeScale : Date.parse(v);
    else return undefined;
    return Number.isFinite(t) && Math.abs(t) <= 8.64e15 ? t : undefined;
  }

  #skip(event: 'malformed' | 'late', r: SkippedRecord): void {
    this.#stats[event]++;
    if (this.#skipped.length < KEPT_SKIPPED) this.#skipped.push(r);
    this.emit(event, r);
  }

  #close(all: boolean): void {
    for (const w of this.#store.closeReady(all)) this.#emitWindow(w);
  }

  #emitWindow({ topic, start, end, acc }: ClosedWindow): void {
    const n = acc.stats.n;
    const index = acc.stats.mean;
    const [lo, hi] = this.#scoreRange;
    const half = n > 1 ? (this.#z * Math.sqrt(acc.stats.variance)) / Math.sqrt(n) : Infinity;
    const agg: WindowAggregate = {
      topic, start, end, count: n, counts: Object.fromEntries(acc.counts), index,
      ciLow: Math.max(lo, index - half), ciHigh: Math.min(hi, index + half),
      judged: n >= this.minCount, z: null, baselineMean: null, cusumUp: 0, cusumDown: 0,
    };
    let alert: Alert | undefined;
    if (agg.judged) {
      const j = this.#detectors.get(topic)!.judge(index, n, acc.stats.variance, start, end);
      Object.assign(agg, { z: j.z, baselineMean: j.baselineMean, cusumUp: j.cusumUp, cusumDown: j.cusumDown });
      if (j.fired.length) {
        alert = {
          topic, direction: j.direction!, detectors: j.fired, windowStart: start, windowEnd: end, index,
          baselineMean: j.baselineMean!, baselineSd: j.baselineSd!, z: j.z!, cusum: j.direction === 'up' ? j.cusumUp : j.cusumDown, count: n,
        };
      }
    }
    this.#stats.windows++;
    this.emit('window', agg);
    if (alert) {
      this.#stats.alerts++;
      this.emit('alert', alert);
    }
  }
}

function positive(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw typeError('a number of milliseconds', name, v);
  if (v <= 0) throw rangeError('a number > 0', name, v);
  return v;
}

/** The label -> score map: given (checked against the model's labels), or +1 / 0 / -1 from label names with pos / neu / neg. */
function scoreMap(scores: Record<string, number> | undefined, labels: readonly string[] | undefined): Record<string, number> {
  if (scores !== undefined) {
    if (scores === null || typeof scores !== 'object' || Array.isArray(scores) || Object.keys(scores).length === 0) throw typeError('a { label: score } object', 'scores', scores);
    for (const [k, v] of Object.entries(scores)) if (typeof v !== 'number' || !Number.isFinite(v)) throw typeError('a finite number', `scores.${k}`, v);
    const missing = labels?.filter((l) => !(l in scores)) ?? [];
    if (missing.length) throw rangeError(`a score for every label of the model (${labels!.join(', ')})`, 'scores', scores);
    return { ...scores };
  }
  if (!labels?.length) throw typeError('a { label: score } object (the classifier does not name its labels)', 'scores', scores);
  const out: Record<string, number> = {};
  for (const l of labels) {
    const k = l.toLowerCase();
    const s = k.includes('neg') ? -1 : k.includes('pos') ? 1 : k.includes('neu') ? 0 : undefined;
    if (s === undefined) throw typeError(`a { label: score } object (label "${l}" has no default score)`, 'scores', scores);
    out[l] = s;
  }
  return out;
}
