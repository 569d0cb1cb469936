/**
 * `npm run bench`: every benchmark in one run, each printing JSON lines side
 * by side with its peer (PyTorch / transformers), then a summary table on
 * stderr. Pass `--quick` for a short pass; one script alone: tsx scripts/bench/<name>.ts.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { info } from '../../lib/index.js';

const dir = path.dirname(fileURLToPath(import.meta.url));
const quick = process.argv.includes('--quick');
const plan: [string, string[]][] = [
  ['tensor.ts', quick ? ['--rounds', '1'] : []],
  ['train.ts', quick ? ['--models', 'mini', '--steps', '3'] : ['--models', 'mini,small']],
  ['infer.ts', quick ? ['--models', 'mini', '--batches', '1,8', '--seconds', '1'] : ['--models', 'mini,small']],
  ['data.ts', []],
  ['dist.ts', []],
  ['serve.ts', []],
];
if (info().cudaAvailable) plan.push(['gpu-train.ts', []]);
const records: Record<string, unknown>[] = [];
for (const [script, args] of plan) {
  process.stderr.write(`[bench] ${script} ${args.join(' ')}\n`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(dir, script), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 30 * 60_000 });
  for (const line of (r.stdout ?? '').split('\n')) {
    if (!line.startsWith('{')) continue;
    process.stdout.write(line + '\n');
    try { records.push(JSON.parse(line)); } catch { /* not ours */ }
  }
  if (r.status !== 0) process.stderr.write(`[bench] ${script} exited with ${r.status ?? r.signal}\n`);
}
const ratios = records.filter((r) => 'ratio' in r || 'speedup' in r || r.kind === 'ratio');
if (ratios.length) console.error('\nsummary (ours / peer):\n' + ratios.map((r) => '  ' + JSON.stringify(r)).join('\n'));
