/**
 * Learning-rate schedules as a function of progress in [0, 1], for the
 * schedules the Trainer drives from JS: time-budgeted runs (`maxTime`, where
 * progress is elapsed / budget, as in Geiping & Goldstein 2022, "Cramming",
 * https://arxiv.org/abs/2212.14034) and 'one_cycle'. Step-based runs of the
 * other kinds use native/optim.h's ScheduleFactor (HF's LambdaLR) instead.
 * Pure functions; no native code.
 */
import { invalidRange } from '../errors.js';

export type ScheduleKind = 'constant' | 'constant_with_warmup' | 'linear' | 'cosine' | 'one_cycle';

/**
 * The multiplier of the peak learning rate at `progress` (0 = start, 1 = the
 * end of the run), with a linear warmup over the first `warmup` of it.
 * 'linear' and 'cosine' reach 0 at progress 1 (HF's get_linear / get_cosine
 * schedules with the step count replaced by a fraction); 'one_cycle' is the
 * triangular one-cycle of Smith 2018 that Cramming found best on a budget:
 * up to the peak at `warmup` (0.5 when 0) and linearly down to 0 at the end.
 * @example scheduleFactor('linear', 0.5, 0) // 0.5
 */
export function scheduleFactor(kind: ScheduleKind, progress: number, warmup = 0): number {
  if (!Number.isFinite(progress)) invalidRange('a finite number', 'progress', progress);
  if (!(warmup >= 0 && warmup <= 1)) invalidRange('a number in [0, 1]', 'warmup', warmup);
  const p = Math.min(1, Math.max(0, progress));
  if (kind === 'one_cycle') {
    const peak = warmup || 0.5;
    return p < peak ? p / peak : peak === 1 ? 1 : (1 - p) / (1 - peak);
  }
  if (kind === 'constant') return 1;
  if (p < warmup || warmup === 1) return p / warmup;
  const decay = (p - warmup) / (1 - warmup);  // 0 after warmup .. 1 at the end
  switch (kind) {
    case 'constant_with_warmup': return 1;
    case 'linear': return Math.max(0, 1 - decay);
    case 'cosine': return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * decay)));
    default: return invalidRange("'constant', 'constant_with_warmup', 'linear', 'cosine' or 'one_cycle'", 'schedule', kind);
  }
}

/**
 * A duration as seconds: a number of seconds, or a string such as '90s',
 * '30m', '1.5h', '1h30m', '45' (seconds).
 * @throws RangeError (ERR_INVALID_ARG) for anything else, or a duration <= 0.
 * @example parseDuration('1h30m') // 5400
 */
export function parseDuration(v: string | number, name = 'maxTime'): number {
  let seconds = NaN;
  if (typeof v === 'number') seconds = v;
  else if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (/^\d+(\.\d+)?$/.test(s)) seconds = Number(s);
    else if (/^(\d+(\.\d+)?[hms])+$/.test(s)) {
      const unit = { h: 3600, m: 60, s: 1 } as const;
      seconds = 0;
      for (const [, num, u] of s.matchAll(/(\d+(?:\.\d+)?)([hms])/g)) seconds += Number(num) * unit[u as keyof typeof unit];
    }
  }
  if (!Number.isFinite(seconds) || seconds <= 0) invalidRange("a duration > 0 (seconds, or '90s', '30m', '1h30m')", name, v);
  return seconds;
}
