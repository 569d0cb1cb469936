/**
 * Event-time windows per topic: tumbling (slide = size) or sliding (slide <
 * size), aligned to `origin` (default the Unix epoch, so hour windows start on
 * the hour in UTC). A window closes when the watermark — the newest event time
 * seen minus the allowed lateness — passes its end; a record older than every
 * window still open is late (counted, never silently dropped). Only open
 * windows are kept: at most ceil((size + lateness) / slide) + 1 window starts
 * per topic, whatever the length of the stream.
 */
import { RunningStats } from './stats.js';

/** The running aggregate of one topic in one window. */
export class WindowAcc {
  readonly stats = new RunningStats();
  readonly counts = new Map<string, number>();

  add(score: number, label: string): void {
    this.stats.add(score);
    this.counts.set(label, (this.counts.get(label) ?? 0) + 1);
  }
}

/** A closed window of one topic, before aggregation into the public record. */
export interface ClosedWindow {
  topic: string;
  start: number;
  end: number;
  acc: WindowAcc;
}

/** The windows of every topic, keyed by start. */
export class WindowStore {
  readonly size: number;
  readonly slide: number;
  readonly lateness: number;
  readonly origin: number;
  /** Newest event time seen minus the lateness; windows ending at or before it are closed. */
  watermark = -Infinity;
  readonly #open = new Map<number, Map<string, WindowAcc>>();
  /** Open window starts, ascending. */
  readonly #starts: number[] = [];

  constructor(size: number, slide: number, lateness: number, origin = 0) {
    this.size = size;
    this.slide = slide;
    this.lateness = lateness;
    this.origin = origin;
  }

  /** Starts of the windows that contain time t, ascending. */
  startsOf(t: number): number[] {
    const last = this.origin + Math.floor((t - this.origin) / this.slide) * this.slide;
    const out: number[] = [];
    for (let s = last; s > t - this.size; s -= this.slide) out.unshift(s);
    return out;
  }

  /**
   * Adds a scored record to every open window of each topic that contains t.
   * Returns false if every such window had closed (the record is late).
   */
  add(t: number, topics: readonly string[], score: number, label: string): boolean {
    let placed = false;
    for (const s of this.startsOf(t)) {
      if (s + this.size <= this.watermark) continue;
      let byTopic = this.#open.get(s);
      if (!byTopic) {
        byTopic = new Map();
        this.#open.set(s, byTopic);
        insertSorted(this.#starts, s);
      }
      for (const topic of topics) {
        let acc = byTopic.get(topic);
        if (!acc) byTopic.set(topic, (acc = new WindowAcc()));
        acc.add(score, label);
      }
      placed = true;
    }
    return placed;
  }

  /** Moves the watermark to `time - lateness` (never back). */
  advance(time: number): void {
    this.watermark = Math.max(this.watermark, time - this.lateness);
  }

  /** Removes and returns the windows that end at or before the watermark (all with `all`), oldest first, topics by name. */
  *closeReady(all = false): Generator<ClosedWindow> {
    while (this.#starts.length && (all || this.#starts[0] + this.size <= this.watermark)) {
      const start = this.#starts.shift()!;
      const byTopic = this.#open.get(start)!;
      this.#open.delete(start);
      for (const topic of [...byTopic.keys()].sort()) yield { topic, start, end: start + this.size, acc: byTopic.get(topic)! };
    }
  }

  /** Open windows (topic x start) now held. */
  get openWindows(): number {
    let n = 0;
    for (const m of this.#open.values()) n += m.size;
    return n;
  }

  /** Open window starts now held. */
  get openStarts(): number {
    return this.#starts.length;
  }
}

function insertSorted(xs: number[], x: number): void {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  xs.splice(lo, 0, x);
}
