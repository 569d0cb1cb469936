// Long native work runs on a worker thread: the event loop keeps ticking.
import test from 'ava';
import { randn } from '../lib/index.js';

test('a setInterval keeps ticking during a one-second native matmul', async (t) => {
  const a = randn([1024, 1024], { seed: 1 });
  const b = randn([1024, 1024], { seed: 2 });
  // Size the job to about one second on this machine.
  const t0 = performance.now();
  await a.matmulAsync(b, 3);
  const perCall = (performance.now() - t0) / 3;
  const repeat = Math.max(3, Math.round(1000 / Math.max(perCall, 1)));
  let ticks = 0;
  const timer = setInterval(() => ticks++, 10);
  const start = performance.now();
  const out = await a.matmulAsync(b, repeat);
  const elapsed = performance.now() - start;
  clearInterval(timer);
  t.log(`${repeat} matmuls took ${elapsed.toFixed(0)} ms; the interval ticked ${ticks} times`);
  t.deepEqual(out.shape, [1024, 1024]);
  t.true(elapsed > 300, 'the job was long enough to matter');
  t.true(ticks >= 5, `only ${ticks} ticks`);
});
