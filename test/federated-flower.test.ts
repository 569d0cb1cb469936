// bertorch's strategies against Flower's own (flwr's Strategy.aggregate_fit),
// round by round, on a deterministic toy problem: K clients with quadratic
// losses 0.5 ||w - c_k||², a few local gradient steps each round, unequal
// example counts. scripts/fixtures/flower_fedavg.py runs the same problem in
// Python; the client math is bit-identical on both sides, so any difference
// is the aggregation's (float32 numpy vs bertorch's float64 accumulation).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { FederatedServer, runSimulation, type FederatedClient } from '../lib/federated/index.js';
import { FedAdagrad, FedAvg, FedMedian, FedTrimmedAvg, FedYogi, type FederatedStrategy } from '../lib/federated/strategies.js';
import { mulberry32 } from '../lib/train/rng.js';
import type { Weights } from '../lib/federated/weights.js';
import { maxDiff, PYTHON, pythonGate } from './helpers/python.js';

const { test } = pythonGate(['flwr', 'numpy']);
const SCRIPT = fileURLToPath(new URL('../scripts/fixtures/flower_fedavg.py', import.meta.url));

const SHAPES: Record<string, number[]> = { 'layer.weight': [3, 4], 'layer.bias': [5], 'block.kernel': [2, 2, 2] };
const NUM_EXAMPLES = [10, 25, 7, 58];
const LR = 0.3, STEPS = 3, ROUNDS = 5;

function problem() {
  const rand = mulberry32(2024);
  const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);
  const init: Weights = new Map(Object.entries(SHAPES).map(([k, s]) => [k, { shape: s, data: Float32Array.from({ length: numel(s) }, () => rand() * 2 - 1) }]));
  const targets = NUM_EXAMPLES.map(() => Object.fromEntries(Object.entries(SHAPES).map(([k, s]) => [k, Float64Array.from({ length: numel(s) }, () => Math.fround(rand() * 4 - 2))])));
  return { init, targets };
}

/** w <- w - lr (w - c) in float64, stored as float32 (as the Python side), `STEPS` times; returns w - global. */
function quadraticClient(target: Record<string, Float64Array>, numExamples: number): FederatedClient {
  return {
    async fit(global) {
      const delta: Weights = new Map();
      for (const [k, g] of global) {
        const w = Float32Array.from(g.data);
        for (let s = 0; s < STEPS; s++) for (let i = 0; i < w.length; i++) w[i] = w[i] - LR * (w[i] - target[k][i]);
        delta.set(k, { shape: g.shape, data: w.map((x, i) => x - g.data[i]) });
      }
      return { delta, numExamples };
    },
  };
}

function flower(strategy: string, options: object, init: Weights, targets: Record<string, Float64Array>[]): { flwr: string; history: number[][][] } {
  const input = JSON.stringify({
    strategy, options, lr: LR, localSteps: STEPS, rounds: ROUNDS, numExamples: NUM_EXAMPLES,
    init: [...init].map(([, t]) => ({ shape: t.shape, data: Array.from(t.data) })),
    targets: targets.map((c) => [...init.keys()].map((k) => Array.from(c[k]))),
  });
  const r = spawnSync(PYTHON, [SCRIPT], { input, encoding: 'utf8', timeout: 120_000, env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } });
  if (r.status !== 0) throw new Error(`${SCRIPT} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

const CASES: [string, object, () => FederatedStrategy][] = [
  ['FedAvg', { inplace: true }, () => new FedAvg()],
  ['FedAvg', { inplace: false }, () => new FedAvg()],
  ['FedMedian', {}, () => new FedMedian()],
  ['FedTrimmedAvg', { beta: 0.25 }, () => new FedTrimmedAvg({ beta: 0.25 })],
  ['FedYogi', { eta: 0.1, beta1: 0.9, beta2: 0.99, tau: 1e-3 }, () => new FedYogi({ eta: 0.1, beta1: 0.9, beta2: 0.99, tau: 1e-3 })],
  // Flower's FedAdagrad has no server momentum (beta_1 = 0).
  ['FedAdagrad', { eta: 0.1, tau: 1e-3 }, () => new FedAdagrad({ eta: 0.1, beta1: 0, tau: 1e-3 })],
];

for (const [name, options, make] of CASES) {
  test(`${name} ${JSON.stringify(options)} equals Flower's aggregate_fit round by round to 1e-6`, async (t) => {
    const { init, targets } = problem();
    const ref = flower(name, options, init, targets);
    const server = new FederatedServer(init, { strategy: make(), minClients: NUM_EXAMPLES.length, log: () => {} });
    const clients = Object.fromEntries(targets.map((c, k) => [`client${k}`, quadraticClient(c, NUM_EXAMPLES[k])]));
    let worst = 0;
    await runSimulation(server, clients, {
      rounds: ROUNDS,
      onRound: (rec) => {
        const want = ref.history[rec.round - 1];
        [...server.global.values()].forEach((w, i) => { worst = Math.max(worst, maxDiff(w.data, want[i])); });
      },
    });
    t.log(`flwr ${ref.flwr}: largest |bertorch - Flower| over ${ROUNDS} rounds = ${worst.toExponential(2)}`);
    t.true(worst <= 1e-6, `max diff ${worst}`);
    t.true(server.history.every((h) => h.status === 'aggregated' && h.accepted.length === NUM_EXAMPLES.length));
  });
}
