/**
 * Progress output. On a TTY: one redrawn line on stderr with step/total,
 * loss, lr, it/s and ETA (log records printed above it). Elsewhere (CI, a
 * pipe, a file): plain log lines, one per logged record. With a time budget
 * (budget()) the bar fills with time and both show the time left instead of
 * an ETA. JS thread only.
 */
import type { LogRecord } from './callbacks.js';
import type { ProgressMode } from './options.js';

const BAR = 24;

/** 3.2e-4, 0.1234, 12.35: short numbers for log lines. */
export function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a < 1e-3 || a >= 1e5) return x.toExponential(2);
  return Number(x.toPrecision(4)).toString();
}

/** 75 -> '1:15', 3700 -> '1:01:40'. */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = h ? String(m).padStart(2, '0') : String(m);
  return `${h ? `${h}:` : ''}${mm}:${String(r).padStart(2, '0')}`;
}

/** One log record as `key value` pairs. */
export function formatRecord(r: LogRecord, total?: number): string {
  const { step, epoch, ...rest } = r;
  const head = `step ${step}${total ? `/${total}` : ''} epoch ${fmt(epoch)}`;
  return [head, ...Object.entries(rest).map(([k, v]) => `${k} ${fmt(v)}`)].join('  ');
}

export class Progress {
  readonly bar: boolean;
  readonly enabled: boolean;
  #stream: NodeJS.WritableStream;
  #total: number;
  #startStep = 0;
  #startTime = 0;
  #lastDraw = 0;
  #line = '';
  #label: string;
  #budget?: { seconds: number; elapsed: () => number };

  constructor(mode: ProgressMode, stream: NodeJS.WritableStream, total: number, label = 'train') {
    this.#stream = stream;
    this.#total = total;
    this.#label = label;
    this.enabled = mode !== 'none';
    this.bar = mode === 'bar' || (mode === 'auto' && !!(stream as NodeJS.WriteStream).isTTY);
  }

  /** Progress is time: `elapsed()` seconds of a `seconds` budget. */
  budget(seconds: number, elapsed: () => number): void {
    this.#budget = { seconds, elapsed };
  }

  /** Seconds of the budget left (undefined without one). */
  timeLeft(): number | undefined {
    return this.#budget ? Math.max(0, this.#budget.seconds - this.#budget.elapsed()) : undefined;
  }

  start(step: number): void {
    this.#startStep = step;
    this.#startTime = performance.now();
  }

  /** Steps per second since start(). */
  rate(step: number): number {
    const dt = (performance.now() - this.#startTime) / 1000;
    return dt > 0 ? (step - this.#startStep) / dt : 0;
  }

  /** Redraws the bar (at most 10 times a second, and at the last step). */
  update(step: number, loss: number, lr: number): void {
    if (!this.bar || !this.enabled) return;
    const now = performance.now();
    if (now - this.#lastDraw < 100 && step < this.#total) return;
    this.#lastDraw = now;
    const rate = this.rate(step);
    const b = this.#budget;
    const frac = Math.min(1, b ? b.elapsed() / b.seconds : step / this.#total);
    const filled = Math.round(frac * BAR);
    const bar = '='.repeat(Math.max(0, filled - 1)) + (filled ? '>' : '') + ' '.repeat(BAR - filled);
    const eta = rate > 0 ? (this.#total - step) / rate : NaN;
    const steps = Number.isFinite(this.#total) ? `${step}/${this.#total}` : `step ${step}`;
    const left = b ? `${duration(this.timeLeft()!)} left` : `ETA ${duration(eta)}`;
    this.#line = `${this.#label} [${bar}] ${steps} loss ${fmt(loss)} lr ${fmt(lr)} ${rate.toFixed(2)} it/s ${left}`;
    const width = (this.#stream as NodeJS.WriteStream).columns;
    const shown = width ? this.#line.slice(0, width - 1) : this.#line;
    this.#stream.write(`\r\x1b[2K${shown}`);
  }

  /** Prints a line (above the bar on a TTY). */
  print(text: string): void {
    if (!this.enabled) return;
    if (this.bar) this.#stream.write(`\r\x1b[2K${text}\n${this.#line}`);
    else this.#stream.write(`${text}\n`);
  }

  log(record: LogRecord): void {
    const left = this.timeLeft();
    const extra = !this.bar && 'loss' in record ? `  ${this.rate(record.step).toFixed(2)} it/s${left !== undefined ? `  ${duration(left)} left` : ''}` : '';
    this.print(`[${this.#label}] ${formatRecord(record, Number.isFinite(this.#total) ? this.#total : undefined)}${extra}`);
  }

  end(): void {
    if (this.bar && this.enabled && this.#line) this.#stream.write('\n');
    this.#line = '';
  }
}
