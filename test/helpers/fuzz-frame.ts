// The per-file frame of the reader fuzz tests. Apart from fuzz-mutate.ts,
// which child processes outside ava import too: this file registers ava hooks.
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Inputs per format and what the reference made of them, logged when a fuzz file ends. */
export type Tally = Record<string, { inputs: number; records: number; badRows: number; inputErrors: number }>;

/**
 * The per-file frame of the reader fuzz tests: a temp folder made before the
 * tests and removed after them, and a tally printed at the end.
 */
export function fuzzFrame(name: string): { dir: () => string; tally: Tally; count(format: string, ref: { inputError?: unknown; rows: ReadonlyArray<{ bad?: unknown }> }): void } {
  let dir = '';
  const tally: Tally = {};
  test.before(async () => {
    dir = await mkdtemp(join(tmpdir(), `bertorch-fuzz-${name}-`));
  });
  test.after.always(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    console.log(`${name} fuzz (seed ${process.env.FUZZ_SEED ?? 22}): ${JSON.stringify(tally)}`);
  });
  return {
    dir: () => dir,
    tally,
    count(format, ref) {
      const c = (tally[format] ??= { inputs: 0, records: 0, badRows: 0, inputErrors: 0 });
      c.inputs++;
      if (ref.inputError) c.inputErrors++;
      for (const r of ref.rows) r.bad === undefined ? c.records++ : c.badRows++;
    },
  };
}
