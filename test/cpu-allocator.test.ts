// The CPU caching allocator (native/cpu_allocator.cc), through its counters:
// freed large blocks are handed out again, a repeated training step maps no
// new memory, the cap and the off switch hold, and values stay right.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { totalmem } from 'node:os';
import { BertForSequenceClassification, cpuCacheStats, emptyCpuCache, info, ones, randn, zeros } from '../lib/index.js';
import { native } from '../lib/binding.js';
import { usableMemory } from '../lib/memory.js';

// Serial: the counters are process-wide.
test.serial('info() names the caching allocator and its limit', (t) => {
  t.regex(info().cpuAllocator, /^caching \(free blocks up to \d+ MiB\)$/);
  const s = cpuCacheStats();
  t.true(s.installed);
  t.true(s.limitMB > 0);
});

test.serial('the memory checks of configs and padding (TypeScript) use the figure the cache is sized from (C++)', (t) => {
  const bytes = usableMemory();
  t.true(bytes > 0 && bytes <= totalmem());
  t.is(bytes, native().usableMemory());
  // The default cap is a quarter of it (the env override is not set in tests).
  t.true(Math.abs(bytes / 4 / 2 ** 20 - cpuCacheStats().limitMB) < 1e-3);
});

test.serial('a freed block is handed out again for the same size class', (t) => {
  const a = zeros([1 << 20]);  // 4 MiB
  const before = cpuCacheStats();
  a.dispose();
  const freed = cpuCacheStats();
  t.is(freed.cachedMB - before.cachedMB, 4);
  const b = ones([1 << 20]);
  const after = cpuCacheStats();
  t.is(after.hits, before.hits + 1);
  t.is(after.misses, before.misses);
  // A reused block is not zeroed: ones() must have written every element.
  t.true((b.toArray() as Float32Array).every((v) => v === 1));
  // A size in another class maps new memory.
  const c = zeros([3 << 20]);
  t.is(cpuCacheStats().misses, after.misses + 1);
  b.dispose();
  c.dispose();
});

test.serial('repeated training steps map no new memory after the first', async (t) => {
  const m = BertForSequenceClassification.create({ vocab_size: 500, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 256, max_position_embeddings: 128 }, { seed: 1 });
  m.configureOptimizer({ lr: 1e-3 });
  const B = 8, T = 128;
  const batch = { inputIds: new BigInt64Array(B * T).map((_, i) => BigInt(1 + (i % 400))), labels: new BigInt64Array(B).fill(1n), shape: [B, T] as [number, number] };
  await m.trainStep(batch);
  const warm = cpuCacheStats();
  const losses = [];
  for (let i = 0; i < 3; i++) losses.push((await m.trainStep(batch)).loss);
  const s = cpuCacheStats();
  t.log(`3 steps: ${s.hits - warm.hits} hits, ${s.misses - warm.misses} misses; in use ${s.inUseMB.toFixed(1)} MiB, cached ${s.cachedMB.toFixed(1)} MiB`);
  t.true(s.hits - warm.hits > 30, 'the steps allocate large blocks from the cache');
  t.is(s.misses, warm.misses);
  t.true(losses.every(Number.isFinite));
  m.dispose();
});

test.serial('steps of changing sequence lengths reuse larger blocks instead of mapping more', async (t) => {
  emptyCpuCache();
  const m = BertForSequenceClassification.create({ vocab_size: 500, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 256, max_position_embeddings: 256 }, { seed: 1 });
  m.configureOptimizer({ lr: 1e-3 });
  const step = (T: number) => m.trainStep({ inputIds: new BigInt64Array(8 * T).map((_, i) => BigInt(1 + (i % 400))), labels: new BigInt64Array(8).fill(1n), shape: [8, T] });
  await step(256);  // the longest first, as a length-sorted or bucketed loader does
  const first = cpuCacheStats();
  for (const T of [200, 131, 250, 160, 140, 229, 180, 133, 256, 199]) await step(T);
  const s = cpuCacheStats();
  t.log(`mapped after one step of 256: ${first.peakMB.toFixed(1)} MiB; after 10 more of 131..256: ${s.peakMB.toFixed(1)} MiB, ${s.misses - first.misses} misses, ${s.hits - first.hits} hits`);
  // Exact size classes alone mapped 261 MiB here (4.1x the first step); larger blocks serving smaller requests, 94 (1.5x).
  t.true(s.peakMB <= first.peakMB * 2, `${s.peakMB} vs ${first.peakMB}`);
  m.dispose();
});

test.serial('emptyCpuCache() gives the free blocks back', (t) => {
  randn([1 << 21]).dispose();
  const held = cpuCacheStats().cachedMB;
  t.true(held >= 8);
  const released = emptyCpuCache();
  t.is(released, held);
  t.is(cpuCacheStats().cachedMB, 0);
});

function child(env: Record<string, string>): { name: string; stats: ReturnType<typeof cpuCacheStats>; sum: number } {
  const code = `import { info, cpuCacheStats, ones } from './lib/index.js';
const a = ones([1 << 20]); const sum = a.sum().item(); a.dispose();
console.log(JSON.stringify({ name: info().cpuAllocator, stats: cpuCacheStats(), sum }));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

test('BERTORCH_CPU_CACHE_MB=0 leaves libtorch\'s allocator; a cap below a block gives it back; a bad value is named', (t) => {
  const off = child({ BERTORCH_CPU_CACHE_MB: '0' });
  t.is(off.name, 'default (BERTORCH_CPU_CACHE_MB=0)');
  t.false(off.stats.installed);
  t.is(off.sum, 1 << 20);
  const capped = child({ BERTORCH_CPU_CACHE_MB: '1' });
  t.is(capped.stats.limitMB, 1);
  t.is(capped.stats.cachedMB, 0);
  t.true(capped.stats.released >= 1);
  t.is(capped.sum, 1 << 20);
  const bad = child({ BERTORCH_CPU_CACHE_MB: 'lots' });
  t.regex(bad.name, /^caching .*ignored BERTORCH_CPU_CACHE_MB='lots' \(not a whole number\)/);
});
