/**
 * Turn detection on one topic's closed windows, in time order: the window's
 * sentiment index is standardised against a rolling baseline (the last
 * `baselineWindows` windows with enough records), and a turn is raised when
 * that z-score passes `zThreshold` (a sudden turn) or when a two-sided CUSUM
 * of the z-scores (Page 1954; slack k, decision interval h, in standard
 * deviations) passes h (a smaller, sustained one). The deviation's scale is
 * the larger of the baseline windows' spread and the sampling error of the
 * window's own mean (so a quiet baseline cannot make noise look like a turn),
 * widened by the uncertainty of the baseline mean itself.
 * Sliding windows: the baseline holds only windows that ended before the
 * judged one starts (no shared records), and each CUSUM step is weighted by
 * slide / size, since that many overlapping windows carry about one window's
 * worth of independent evidence. After a turn the baseline and both sums
 * restart: the new level is the new normal. Windows under `minCount` records
 * are neither judged nor learned from.
 */
import { RunningStats } from './stats.js';

/** Settings of turn detection. */
export interface DetectionOptions {
  /** Windows the rolling baseline keeps. @default 24 */
  baselineWindows?: number;
  /** Windows the baseline needs before any window is judged. @default 8 */
  minBaselineWindows?: number;
  /** |z| at or above which a window is a turn. @default 4 */
  zThreshold?: number;
  /** CUSUM slack k (in standard deviations). @default 0.5 */
  cusumK?: number;
  /** CUSUM decision interval h (in standard deviations); 0 turns CUSUM off. @default 8 */
  cusumH?: number;
}

export type ResolvedDetection = Required<DetectionOptions>;

export const DETECTION_DEFAULTS: ResolvedDetection = { baselineWindows: 24, minBaselineWindows: 8, zThreshold: 4, cusumK: 0.5, cusumH: 8 };

/** What judging one window found. */
export interface Judgement {
  /** The window's deviation from the baseline in standard deviations (null before the baseline is ready). */
  z: number | null;
  baselineMean: number | null;
  baselineSd: number | null;
  /** CUSUM sums after this window (upward, downward). */
  cusumUp: number;
  cusumDown: number;
  /** The detectors that fired, if any. */
  fired: Array<'zscore' | 'cusum'>;
  direction: 'up' | 'down' | null;
}

interface BaselineWindow {
  end: number;
  index: number;
  /** Per-record variance of the window's scores. */
  variance: number;
}

/** The baseline and CUSUM state of one topic. Memory: at most `baselineWindows` entries. */
export class TurnDetector {
  readonly #o: ResolvedDetection;
  /** Weight of a CUSUM step: slide / size (1 for tumbling windows). */
  readonly #weight: number;
  /** Windows that may still enter the baseline (overlapping the next ones), then the baseline: newest last. */
  #recent: BaselineWindow[] = [];
  #up = 0;
  #down = 0;

  constructor(options: ResolvedDetection, { size = 1, slide = 1 }: { size?: number; slide?: number } = {}) {
    this.#o = options;
    this.#weight = slide / size;
  }

  /** Judges a window [start, end) (index = mean score of its n records, variance = their sample variance), then learns from it. */
  judge(index: number, n: number, variance: number, start = 0, end = 0): Judgement {
    const o = this.#o;
    const out: Judgement = { z: null, baselineMean: null, baselineSd: null, cusumUp: this.#up, cusumDown: this.#down, fired: [], direction: null };
    const baseline = this.#recent.filter((w) => w.end <= start).slice(-o.baselineWindows);
    if (baseline.length >= o.minBaselineWindows) {
      const between = new RunningStats();
      let pooled = 0;
      for (const w of baseline) {
        between.add(w.index);
        pooled += w.variance;
      }
      pooled /= baseline.length;
      // The baseline mean is itself an estimate, from about baseline.length * slide / size independent windows.
      const effective = Math.max(1, baseline.length * this.#weight);
      const sd = Math.max(Math.sqrt(between.variance), Math.sqrt(pooled / n), 1e-9) * Math.sqrt(1 + 1 / effective);
      const z = (index - between.mean) / sd;
      this.#up = Math.max(0, this.#up + this.#weight * (z - o.cusumK));
      this.#down = Math.max(0, this.#down + this.#weight * (-z - o.cusumK));
      Object.assign(out, { z, baselineMean: between.mean, baselineSd: sd, cusumUp: this.#up, cusumDown: this.#down });
      if (Math.abs(z) >= o.zThreshold) out.fired.push('zscore');
      if (o.cusumH > 0 && (this.#up >= o.cusumH || this.#down >= o.cusumH)) out.fired.push('cusum');
      if (out.fired.length) {
        out.direction = out.fired.includes('zscore') ? (z > 0 ? 'up' : 'down') : this.#up >= this.#down ? 'up' : 'down';
        this.#recent = [];
        this.#up = this.#down = 0;
      }
    }
    this.#recent.push({ end, index, variance });
    // Keep the baseline's windows plus those still overlapping what comes next (bounded by baselineWindows + size / slide).
    const keep = o.baselineWindows + Math.ceil(1 / this.#weight);
    if (this.#recent.length > keep) this.#recent.splice(0, this.#recent.length - keep);
    return out;
  }
}
