// The profiler around real native work: a training step of a tiny BERT.
import test from 'ava';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BertForSequenceClassification, info, profile } from '../lib/index.js';

const tiny = { vocab_size: 50, hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32, max_position_embeddings: 16 };
const batch = { inputIds: new BigInt64Array(16).fill(3n), labels: new BigInt64Array([0n, 1n]), shape: [2, 8] as [number, number] };

test.serial('profile() names the ops a training step ran and writes a Chrome trace', async (t) => {
  const m = BertForSequenceClassification.create(tiny, { seed: 1 });
  m.configureOptimizer({ lr: 1e-3 });
  const tracePath = path.join(mkdtempSync(path.join(tmpdir(), 'bt-prof-')), 'trace.json');
  const { result, summary } = await profile(async () => { await m.trainStep(batch); return (await m.trainStep(batch)).loss; }, { tracePath, top: 50 });
  t.true(Number.isFinite(result));
  const names = summary.cpuOps.map((r) => r.name);
  t.true(names.some((n) => /aten::(addmm|linear|mm)/.test(n)), names.join(', '));
  t.true(names.some((n) => /backward|Backward/.test(n)), 'autograd ops are profiled too');
  t.true(summary.cpuOps.every((r) => r.count > 0 && r.ms >= 0));
  t.is(summary.deviceBusyMs, 0);
  t.true(summary.wallMs > 0);
  t.true(existsSync(tracePath));
  t.true(Array.isArray(JSON.parse(readFileSync(tracePath, 'utf8')).traceEvents));
  m.dispose();
});

test.serial('one profile at a time; bad options and a missing GPU are clear errors; a failing fn stops the profiler', async (t) => {
  const first = profile(() => new Promise((r) => setTimeout(r, 50)));
  await t.throwsAsync(() => profile(async () => 1), { message: /already running/ });
  await first;
  await t.throwsAsync(() => profile(async () => 1, { top: 0 }), { instanceOf: RangeError, message: /for top/ });
  await t.throwsAsync(() => profile(async () => { throw new Error('boom'); }), { message: 'boom' });
  const again = await profile(async () => 2);  // the failed run left the profiler stopped
  t.is(again.result, 2);
  if (!info().cudaAvailable) await t.throwsAsync(() => profile(async () => 1, { cuda: true }), { message: /needs a CUDA device/ });
  const nowhere = path.join(tmpdir(), 'bt-no-such-folder', 'trace.json');
  await t.throwsAsync(() => profile(async () => 1, { tracePath: nowhere }), { message: new RegExp(`cannot write the trace to .*trace.json: .*bt-no-such-folder is not a writable folder \\(ENOENT\\)`) });
  t.false(existsSync(nowhere));
});
