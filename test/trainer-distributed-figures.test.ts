// Figures that mean the same on N ranks as on one (issue 22): two processes
// on loopback (Gloo) and one process train on the same global batches, and
// log the same losses, trainLoss, evaluation (each of the 15 eval examples
// counted once) and examples per second over all ranks.
import test from './helpers/gloo.js';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

interface Figures {
  rank: number;
  world: number;
  trainLoss: number;
  logged: Array<{ step: number; loss?: number; eval_loss?: number; eval_accuracy?: number }>;
  metrics: Record<string, number>;
  samples: number;
}

function run(nproc: number): Figures[] {
  const args = [path.join(here, '..', 'bin', 'bertorch-run.js'), '--nproc', String(nproc), path.join(here, 'helpers', 'trainer-figures-worker.ts')];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 180_000 });
  if (r.status !== 0) throw new Error(`bertorch-run --nproc ${nproc} exited with ${r.status}: ${r.stdout}${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l.includes('"rank"')).map((l) => JSON.parse(l.slice(l.indexOf('{'))) as Figures).sort((a, b) => a.rank - b.rank);
}

function close(t: { true(ok: boolean, message?: string): void }, a: number | undefined, b: number | undefined, what: string): void {
  t.true(a !== undefined && b !== undefined && Math.abs(a - b) <= 1e-6, `${what}: ${a} (2 processes) vs ${b} (1 process)`);
}

test('two processes log the loss, trainLoss, evaluation and throughput one process logs on the same data', (t) => {
  const [single] = run(1);
  const pair = run(2);
  t.is(pair.length, 2);
  t.deepEqual(pair[0].logged, pair[1].logged, 'both ranks log the same figures');
  const [two] = pair;
  t.is(two.logged.length, single.logged.length);
  let losses = 0;
  two.logged.forEach((record, k) => {
    const one = single.logged[k];
    t.is(record.step, one.step);
    for (const key of ['loss', 'eval_loss', 'eval_accuracy'] as const) {
      if (one[key] === undefined) continue;
      close(t, record[key], one[key], `step ${record.step} ${key}`);
      if (key === 'loss') losses++;
    }
  });
  t.true(losses >= 8, `${losses} training losses compared`);
  close(t, two.trainLoss, single.trainLoss, 'trainLoss');
  close(t, two.metrics.eval_loss, single.metrics.eval_loss, 'eval_loss');
  close(t, two.metrics.eval_accuracy, single.metrics.eval_accuracy, 'eval_accuracy');
  // 15 examples: a padded shard would make accuracy a multiple of 1/16.
  t.true(Math.abs(single.metrics.eval_accuracy * 15 - Math.round(single.metrics.eval_accuracy * 15)) < 1e-9);
  // 64 examples x 2 epochs over all ranks, as one process trains on.
  for (const r of [single, ...pair]) t.true(Math.abs(r.samples - 128) < 2, `rank ${r.rank} of ${r.world}: ${r.samples} examples`);
  t.log(`trainLoss ${single.trainLoss} (1 process) vs ${two.trainLoss} (2), eval_loss ${single.metrics.eval_loss} vs ${two.metrics.eval_loss}`);
});
