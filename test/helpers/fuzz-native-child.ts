// One batch of hostile calls over the public API (test/fuzz-native.test.ts),
// in its own process with a temporary working directory (calls that write
// files write there). Arguments: seed, first call, count. Every exported
// function, constructor, static and instance method is called with values
// drawn from a hostile pool: wrong types, NaN, negative and absurd sizes,
// disposed tensors and models, unknown devices; every 50th step fires calls
// at one model concurrently. Before each call its description goes to stderr,
// so the parent names the call a hang or crash happened in. An async call
// that has not settled after CALL_MS counts as a hang. Prints a JSON tally.

import * as bt from '../../lib/index.js';

const [seedText, firstText, countText] = process.argv.slice(2);
const CALL_MS = 20_000;
let state = (Number(seedText) * 2654435761 + Number(firstText)) >>> 0;
const rand = () => {
  // mulberry32: a seeded stream, so a batch is repeatable from its arguments.
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];

const tiny = { vocab_size: 30, hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 16, max_position_embeddings: 8 };
const batch = { inputIds: new Int32Array([2, 5, 6, 3]), attentionMask: new Int32Array([1, 1, 1, 1]), shape: [1, 4] as [number, number], labels: new Int32Array([1]) };
const instances: object[] = [];
function freshInstances(): void {
  for (const o of instances.splice(0)) (o as { dispose?: () => void }).dispose?.();
  const t = bt.tensor([1, 2, 3, 4], { shape: [2, 2] });
  const disposed = bt.tensor([1]);
  disposed.dispose();
  const model = bt.BertForSequenceClassification.create(tiny, { seed: 1 });
  const gone = bt.BertForSequenceClassification.create(tiny, { seed: 1 });
  gone.dispose();
  instances.push(t, disposed, model, gone, new bt.Trainer(model, { progress: 'none' }), new bt.Rng(1));
}

// Sizes are absurd or invalid, never "large but possible": a call that is
// allowed to allocate 8 GB would, and the machine is shared.
const SHAPES = [[-1], [NaN], [1e12], [2 ** 53], [2.5], [0], [2, 2], ['a'], [1e6, 1e6], [], [Infinity], [-3, 2]];
function hostile(): unknown {
  const pool: Array<() => unknown> = [
    () => undefined, () => null, () => NaN, () => -1, () => 0, () => 1, () => 2.5, () => 1e12, () => 2 ** 53, () => Infinity, () => -0,
    () => '', () => 'x', () => 'cuda', () => 'cuda:7', () => 'mps', () => 'cpu', () => 'float64', () => 'int8', () => '../x', () => '\u0000',
    () => true, () => 10n, () => Symbol('s'), () => () => 1, () => async () => { throw new Error(`rejecting callback passed at call ${current}`); },
    () => ({}), () => [], () => [NaN], () => pick(SHAPES), () => ({ shape: pick(SHAPES) }), () => ({ batchSize: -1, lr: NaN, epochs: 1e12, device: 'cuda:9' }),
    () => new Float32Array([1, NaN, -Infinity]), () => new Int32Array(3), () => new BigInt64Array(2), () => new Uint8Array(0), () => Buffer.from('x'),
    () => pick(instances), () => pick(instances), () => batch, () => ({ ...batch, shape: [2, 2] }), () => ({ ...batch, inputIds: new Int32Array([99, -5, 1e9, 0]) }),
    () => new Proxy({}, { get: () => { throw new Error('proxy'); } }),
  ];
  return pick(pool)();
}

type Target = { name: string; call: (args: unknown[]) => unknown };
const targets: Target[] = [];
for (const [name, value] of Object.entries(bt)) {
  if (typeof value !== 'function') continue;
  const isClass = /^class\b/.test(Function.prototype.toString.call(value));
  if (isClass) {
    targets.push({ name: `new ${name}`, call: (args) => new (value as new (...a: unknown[]) => unknown)(...args) });
    for (const key of Object.getOwnPropertyNames(value)) {
      if (['length', 'name', 'prototype'].includes(key) || typeof (value as any)[key] !== 'function') continue;
      targets.push({ name: `${name}.${key}`, call: (args) => (value as any)[key](...args) });
    }
  } else {
    targets.push({ name, call: (args) => (value as (...a: unknown[]) => unknown)(...args) });
  }
}
// Methods of the live objects (prototype chain up to Object), found by name.
function methodTarget(): Target {
  const o = pick(instances) as Record<string, unknown>;
  const names = new Set<string>();
  for (let p = Object.getPrototypeOf(o); p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const k of Object.getOwnPropertyNames(p)) if (k !== 'constructor') names.add(k);
  }
  const key = pick([...names]);
  return { name: `${o.constructor.name}#${key}`, call: (args) => (typeof o[key] === 'function' ? (o[key] as (...a: unknown[]) => unknown).apply(o, args) : o[key]) };
}

let current = 0;
const tally = { calls: 0, returned: 0, threw: {} as Record<string, number>, hangs: [] as string[], concurrent: 0 };
const settle = async (value: unknown, name: string): Promise<void> => {
  if (!(value instanceof Promise)) return;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), CALL_MS)));
  const result = await Promise.race([value.then(() => 'ok', (e) => { throw e; }), late]).finally(() => clearTimeout(timer));
  if (result === 'late') tally.hangs.push(name);
};

freshInstances();
for (let k = 0; k < Number(countText); k++) {
  if (k % 50 === 49) {
    // Concurrent calls on one model: queued, never overlapping, never a crash.
    const model = bt.BertForSequenceClassification.create(tiny, { seed: 2 });
    const calls = [() => model.forward(batch), () => model.trainStep(batch), () => model.forward(hostile() as never), () => model.eval(), () => model.stateDict(), () => model.dispose()];
    process.stderr.write(`call ${k}: concurrent calls on one model\n`);
    const pending = Array.from({ length: 8 }, () => { try { return Promise.resolve(pick(calls)()); } catch (e) { return Promise.reject(e); } });
    await settle(Promise.allSettled(pending), 'concurrent calls on one model');
    model.dispose();
    tally.concurrent++;
  }
  if (k % 200 === 199) freshInstances();
  current = k;
  const target = rand() < 0.35 ? methodTarget() : pick(targets);
  const args = Array.from({ length: Math.floor(rand() * 4) }, hostile);
  process.stderr.write(`call ${k}: ${target.name}(${args.map((a) => typeof a).join(', ')})\n`);
  tally.calls++;
  try {
    const value = target.call(args);
    await settle(value, target.name);
    tally.returned++;
  } catch (error) {
    const name = error instanceof Error ? error.constructor.name : typeof error;
    tally.threw[name] = (tally.threw[name] ?? 0) + 1;
  }
}
console.log(JSON.stringify(tally));
// Servers or timers a hostile call started must not keep the batch alive.
process.exit(0);
