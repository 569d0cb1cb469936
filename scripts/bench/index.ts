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
console.error('\nsummary: ours beside the peer, measured in this run\n' + table(records.flatMap(summaryRow)));

type Row = [bench: string, what: string, ours: string, peer: string, ratio: string];

/** One row per line that sets ours beside a peer; `ratio` > 1 means bertorch is ahead. */
function summaryRow(r: Record<string, any>): Row[] {
  const f = (x: unknown, unit = '') => (typeof x === 'number' ? `${x}${unit}` : '');
  const ratio = (x: unknown) => (typeof x === 'number' ? `${x.toFixed(2)}x` : '');
  if (r.kind === 'ratio' && r.bench === 'tensor') {
    // Per-call overhead: fewer µs is better, so the ahead-ratio is peer / ours.
    const ahead = r.metric === 'us_per_call' ? r.peer / r.ours : r.ours_over_peer;
    return [['tensor', `${r.name} (${r.metric === 'gflops' ? 'GFLOP/s' : 'µs/call'})`, f(r.ours), f(r.peer), ratio(ahead)]];
  }
  if (r.kind === 'ratio' && r.bench === 'train') {
    return [['train', `${r.model} ${r.task} B${r.batch} T${r.seq} ${r.precision} (seq/s, MFU ${r.ours_mfu} vs ${r.peer_mfu})`, f(r.ours_seq_s), f(r.peer_seq_s), ratio(r.ours_over_peer)]];
  }
  if (r.kind === 'ratio' && r.bench === 'infer') {
    const where = r.device && r.device !== 'cpu' ? ` ${r.device}` : '';
    return [['infer', `${r.model} B${r.batch} T${r.seq} ${r.precision}${where} (seq/s; p50 ${r.ours_p50_ms} vs ${r.peer_p50_ms} ms)`, f(r.ours_seq_s), f(r.peer_seq_s), ratio(r.ours_over_peer)]];
  }
  if (r.kind === 'ratio' && r.bench === 'data') return [['data', `${r.what} (tokens/s)`, f(r.ours), f(r.peer), ratio(r.ours / r.peer)]];
  if (r.bench === 'federated' && typeof r.ratio === 'number') {
    return [['federated', `${r.op} (ms, vs ${r.peer})`, f(r.ms), f(r.peer_ms), ratio(r.peer_ms / r.ms)]];
  }
  if (r.bench === 'gpu-train' && r.side && r.seqPerS) return [['gpu-train', `${r.side} ${r.task} B${r.batch} ${r.dtype} (seq/s${r.mfu ? `, MFU ${r.mfu}` : ''})`, r.side === 'hf' ? '' : f(r.seqPerS), r.side === 'hf' ? f(r.seqPerS) : '', '']];
  if (r.bench === 'gpu-train' && r.ratio) return [['gpu-train', `${r.task}: ${r.ratio}`, '', '', ratio(r.value)]];
  return [];
}

function table(rows: Row[]): string {
  if (!rows.length) return '  (no line set ours beside a peer: was the Python peer importable?)';
  const all: Row[] = [['bench', 'what', 'ours', 'peer', 'ours ahead by'], ...rows];
  const w = [0, 1, 2, 3, 4].map((i) => Math.max(...all.map((row) => row[i].length)));
  return all.map((row) => '  ' + row.map((c, i) => (i >= 2 ? c.padStart(w[i]) : c.padEnd(w[i]))).join('  ')).join('\n');
}
