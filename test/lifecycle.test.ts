// Ownership of native tensors and models: dispose, tidy, the GC finalizer,
// external-memory accounting, and queued model calls.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { native } from '../lib/binding.js';
import { BertForSequenceClassification, liveTensors, ones, randn, tensor, tidy, TorchError, zeros } from '../lib/index.js';

const gc = () => (globalThis as { gc?: () => void }).gc!();

test.serial('dispose frees at once, is idempotent, and use after dispose throws ERR_DISPOSED', (t) => {
  const base = liveTensors();
  const x = zeros([4]);
  t.is(liveTensors(), base + 1);
  x.dispose();
  x.dispose();
  t.is(liveTensors(), base);
  t.true(x.isDisposed);
  t.throws(() => x.shape, { instanceOf: TorchError, code: 'ERR_DISPOSED' });
  t.throws(() => x.add(1), { instanceOf: TorchError, code: 'ERR_DISPOSED' });
  t.throws(() => ones([1]).add(x), { instanceOf: TorchError, code: 'ERR_DISPOSED' });
});

test.serial('using declarations free tensors at scope exit', (t) => {
  const base = liveTensors();
  {
    using a = zeros([2]);
    t.is(a.numel, 2);
  }
  t.is(liveTensors(), base);
});

test.serial('tidy frees what fn made except its return value, also when nested', (t) => {
  const base = liveTensors();
  const x = ones([3]);
  const out = tidy(() => {
    const inner = tidy(() => x.add(1).mul(2));
    return { y: inner.add(1), list: [inner.sub(1)] };
  });
  t.is(liveTensors(), base + 3);  // x, out.y, out.list[0]
  t.deepEqual([...out.y.toArray()], [5, 5, 5]);
  t.deepEqual([...out.list[0].toArray()], [3, 3, 3]);
  t.throws(() => tidy(() => { throw new Error('boom'); }), { message: 'boom' });
});

test.serial('the live-tensor count returns to its baseline after a training step', async (t) => {
  const m = BertForSequenceClassification.create({ vocab_size: 50, hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32, max_position_embeddings: 16 });
  m.configureOptimizer({ lr: 1e-3 });
  const batch = { inputIds: new BigInt64Array(16).fill(3n), labels: new BigInt64Array([0n, 1n]), shape: [2, 8] as [number, number] };
  await m.trainStep(batch);
  const base = liveTensors();
  for (let i = 0; i < 3; i++) await m.trainStep(batch);
  t.is(liveTensors(), base);
  m.dispose();
});

test.serial('the GC finalizer frees unreachable tensors', async (t) => {
  const base = liveTensors();
  (() => { for (let i = 0; i < 200; i++) randn([16]); })();
  for (let i = 0; i < 5 && liveTensors() > base; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  t.true(liveTensors() <= base + 1, `live ${liveTensors()} vs baseline ${base}`);
});

// FinalizationRegistry callbacks run as tasks after the GC, so memory dropped
// inside one synchronous loop comes back when the loop yields to the event
// loop — as a service does between requests. Synchronous loops should use
// tidy() or dispose(); this test measures the GC safety net.
test.serial('a freed handle stays stale in the raw binding after its slot is reused', (t) => {
  const x = zeros([3]);
  const hx = x.handle;
  x.dispose();
  const y = ones([2]);  // the freed slot is reused first
  t.not(y.handle, hx);
  t.throws(() => native().shape(hx), { instanceOf: TorchError, code: 'ERR_DISPOSED', message: /disposed/ });
  t.false(native().dispose(hx));
  t.deepEqual(y.shape, [2]);
  t.throws(() => native().shape(1), { instanceOf: TypeError, message: /Expected a Tensor for self but received 1/ });
  t.throws(() => native().add(y.handle, 2.5 as never), { instanceOf: TypeError, message: /for other/ });
  t.throws(() => native().add(y.handle, [1, 2] as never), { instanceOf: TypeError, message: /scalar boxed as \[x\]/ });
  y.dispose();
});

test.serial('the GC finalizer of a disposed tensor never frees the tensor that reused its slot', async (t) => {
  let x: ReturnType<typeof zeros> | null = zeros([3]);
  await new Promise((r) => setImmediate(r));  // x outlives its tick: now registered with the finalizer
  x.dispose();
  const y = ones([5]);
  x = null;
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  t.deepEqual([...y.toArray()], [1, 1, 1, 1, 1]);
  y.dispose();
});

test.serial('creating and dropping 100k tensors of 1 MB keeps RSS bounded', async (t) => {
  const before = process.memoryUsage().rss;
  let peak = before;
  for (let i = 0; i < 100_000; i++) {
    zeros([262_144]);  // 1 MiB of float32, dropped at once: only the GC can free it
    if (i % 500 === 499) {
      peak = Math.max(peak, process.memoryUsage().rss);
      await new Promise((r) => setImmediate(r));
    }
  }
  const growth = (peak - before) / 2 ** 20;
  t.log(`peak RSS growth over 100k x 1 MiB: ${growth.toFixed(0)} MiB (100,000 MiB allocated in all)`);
  t.true(growth < 2048, `RSS grew by ${growth} MiB`);
});

test.serial('overlapping calls on one model are queued and all resolve', async (t) => {
  const m = BertForSequenceClassification.create({ vocab_size: 50, hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32, max_position_embeddings: 16 });
  m.configureOptimizer({ lr: 1e-3 });
  const batch = { inputIds: new BigInt64Array(16).fill(3n), labels: new BigInt64Array([0n, 1n]), shape: [2, 8] as [number, number] };
  const results = await Promise.all([m.trainStep(batch), m.forward(batch), m.trainStep(batch), m.forward(batch)]);
  t.is(results.length, 4);
  t.is(m.optimizerStepCount, 2);
  m.dispose();
});

test.serial('a disposed model rejects queued calls with ERR_DISPOSED and never crashes', async (t) => {
  const m = BertForSequenceClassification.create({ vocab_size: 50, hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32, max_position_embeddings: 16 });
  const batch = { inputIds: new BigInt64Array(16).fill(3n), shape: [2, 8] as [number, number] };
  const first = m.forward(batch);
  const second = m.forward(batch);
  m.dispose();
  const settled = await Promise.allSettled([first, second]);
  t.true(settled.some((s) => s.status === 'rejected' && (s.reason as TorchError).code === 'ERR_DISPOSED'));
  await t.throwsAsync(() => m.forward(batch), { code: 'ERR_DISPOSED' });
  t.notThrows(() => m.dispose());
});

test.serial('tensors made from typed arrays own a copy of the data', (t) => {
  const src = new Float32Array([1, 2, 3]);
  const x = tensor(src);
  src[0] = 99;
  t.is(x.toArray()[0], 1);
  const out = x.toArray() as Float32Array;
  out[1] = 42;
  t.is(x.toArray()[1], 2);
});

test('a worker_thread that exits or is terminated with native jobs in flight does not crash the process', (t) => {
  // Once a segfault: the finished job called its environment's freed thread-safe function.
  const script = fileURLToPath(new URL('./helpers/terminate-worker.mjs', import.meta.url));
  const r = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 120_000 });
  t.is(r.signal, null, r.stderr);
  t.is(r.status, 0, r.stderr);
  t.deepEqual(JSON.parse(r.stdout.trim().split('\n').at(-1)!), { survived: true, shape: [64, 64] });
});
