/** Durations as people write them on a command line: 500ms, 30s, 15m, 1h, 1d, or a number of milliseconds. */

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Milliseconds in a duration.
 * @throws {RangeError} for text that is not a duration.
 * @example parseDuration('15m') // 900000
 */
export function parseDuration(text: string | number): number {
  if (typeof text === 'number' && Number.isFinite(text) && text >= 0) return text;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(String(text));
  if (!m) throw new RangeError(`Expected a duration such as 500ms, 30s, 15m, 1h or 1d for the duration but received ${JSON.stringify(text)}`);
  return Number(m[1]) * UNITS[m[2] ?? 'ms'];
}
