// Runs the HuggingFace peer (Python + torch + transformers) from tests.
// Python is env BERTORCH_PYTHON, default <repo>/.venv/bin/python. A test file
// gates its Python tests with pythonGate(modules): when the modules cannot be
// imported, the tests are skipped with one logged reason, except under CI
// (env CI set), where a missing peer is a failing test (CI installs
// requirements-dev.txt). Every other Python failure throws.
import test, { type TestFn } from 'ava';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
export const PYTHON = process.env.BERTORCH_PYTHON || join(root, '.venv/bin/python');

// No hub access, one thread (bitwise-stable reductions), quiet transformers.
const ENV = { ...process.env, HF_HUB_OFFLINE: '1', TRANSFORMERS_OFFLINE: '1', OMP_NUM_THREADS: '1', TRANSFORMERS_VERBOSITY: 'error', PYTHONDONTWRITEBYTECODE: '1' };
const PRELUDE = 'import json, sys\nimport torch\ntorch.set_num_threads(1)\n';

/** Why `modules` cannot be imported by PYTHON, or undefined when they can. */
export function pythonProblem(modules: readonly string[]): string | undefined {
  const r = spawnSync(PYTHON, ['-c', `import ${modules.join(', ')}`], { encoding: 'utf8', env: ENV, timeout: 120_000 });
  if (r.error) return `${PYTHON} cannot be run (${r.error.message})`;
  if (r.status !== 0) return `${PYTHON} cannot import ${modules.join(', ')}: ${r.stderr.trim().split('\n').pop()}`;
  return undefined;
}

/**
 * `{available: true, test}` when PYTHON imports `modules`. Otherwise registers
 * one test saying why (failing when env CI is set, a skipped test with the
 * reason in its title elsewhere) and returns `test.skip` as `test`; hooks should check `available`.
 */
export function pythonGate(modules: readonly string[]): { available: boolean; test: TestFn } {
  const problem = pythonProblem(modules);
  if (!problem) return { available: true, test };
  const hint = `Install requirements-dev.txt into it or set BERTORCH_PYTHON.`;
  if (process.env.CI) {
    test(`Python with ${modules.join(', ')} is available (required in CI)`, (t) => {
      t.fail(`${problem}. ${hint}`);
    });
  } else {
    // A skip ava counts and prints, with the reason in its title (never a pass).
    test.skip(`Python comparisons (${modules.join(', ')}): skipped because ${problem}. ${hint}`, () => {});
  }
  return { available: false, test: test.skip as unknown as TestFn };
}

/**
 * Runs `code` (after a prelude importing json, sys, torch with 1 thread) with
 * `args` as sys.argv[1:]; the code prints one JSON value as its last stdout
 * line, which is returned parsed. Throws with stderr on any failure.
 */
export function runPython<T = any>(code: string, args: readonly string[] = [], timeoutMs = 180_000): T {
  const r = spawnSync(PYTHON, ['-c', PRELUDE + code, ...args], {
    encoding: 'utf8', env: ENV, timeout: timeoutMs, maxBuffer: 256 << 20,
  });
  if (r.error) throw new Error(`${PYTHON}: ${r.error.message}${r.stderr ? `\n${r.stderr}` : ''}`);
  if (r.status !== 0) throw new Error(`${PYTHON} exited with ${r.status ?? r.signal}:\n${r.stderr}`);
  const last = r.stdout.trimEnd().split('\n').pop() ?? '';
  try {
    return JSON.parse(last) as T;
  } catch {
    throw new Error(`${PYTHON} printed no JSON on its last line:\n${r.stdout.slice(-2000)}\n${r.stderr}`);
  }
}

/** max |a - b| over two flat numeric arrays; Infinity when the lengths differ. */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return Number.isNaN(m) ? Infinity : m;
}
