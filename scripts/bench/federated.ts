/**
 * Federated benchmark: the server-side costs per round for a model of a
 * given size (a PRESETS BERT's parameter count) and K clients, against
 * Flower's numpy aggregation on the same arrays (the peer), plus the wire
 * format and one in-process simulated round of the intent example.
 * One JSON line per trial:
 *   {bench: 'federated', op, preset, params, clients, ms, peer_ms, ratio}
 *
 *   npx tsx scripts/bench/federated.ts [--presets tiny,mini] [--clients 5] [--repeats 3] [--no-peer] [--no-round]
 *
 * Trials (declared as data below): encode / decode / validate one update;
 * FedAvg, FedMedian, FedTrimmedAvg, FedYogi aggregation of K updates;
 * noisyClippedMean (DP). The peer runs flwr.server.strategy.aggregate's
 * aggregate / aggregate_median / aggregate_trimmed_avg in a fresh Python process.
 */
import { spawnSync } from 'node:child_process';
import { BertForSequenceClassification, PRESETS } from '../../lib/index.js';
import {
  BertClient, decodeUpdate, encodeUpdate, FedAvg, FederatedServer, FedMedian, FedTrimmedAvg, FedYogi, fromModel, gaussianSource,
  noisyClippedMean, runSimulation, uniformSource, validateUpdate, type ClientResult, type Weights,
} from '../../lib/federated/index.js';
import { mulberry32 } from '../../lib/train/rng.js';
import { clientShard, intentData, publicTokenizer, tinyConfig } from '../../examples/federated/task.js';
import { emit, intFlag, listFlag, log, median, now, parseFlags, ROOT, round } from './common.js';

const flags = parseFlags(process.argv.slice(2));
const presets = listFlag(flags, 'presets', ['tiny', 'mini'], ['tiny', 'mini', 'small', 'medium', 'base'] as const);
const K = intFlag(flags, 'clients', 5);
const repeats = intFlag(flags, 'repeats', 3);
const PYTHON = process.env.BERTORCH_PYTHON || `${ROOT}/.venv/bin/python`;

/** A model's parameter shapes with random values (vocab 8000, 12 labels). */
function weightsOf(preset: keyof typeof PRESETS, seed: number): Weights {
  const m = BertForSequenceClassification.create({ ...PRESETS[preset], vocab_size: 8000, id2label: Object.fromEntries(Array.from({ length: 12 }, (_, i) => [String(i), `L${i}`])) }, { seed: 1 });
  const w = fromModel(m);
  m.dispose();
  const rand = mulberry32(seed);
  for (const t of w.values()) for (let i = 0; i < t.data.length; i++) t.data[i] = (rand() - 0.5) * 0.02;
  return w;
}

function time(fn: () => unknown): number {
  const xs: number[] = [];
  fn();  // warm-up
  for (let r = 0; r < repeats; r++) { const t0 = now(); fn(); xs.push((now() - t0) * 1000); }
  return median(xs);
}

const PEER = `
import sys, time, json, numpy as np
from flwr.server.strategy.aggregate import aggregate, aggregate_median, aggregate_trimmed_avg
shapes = json.loads(sys.argv[1]); K = int(sys.argv[2]); R = int(sys.argv[3])
rng = np.random.default_rng(0)
res = [([rng.standard_normal(s).astype(np.float32) * 0.01 for s in shapes], 10 + k) for k in range(K)]
def t(f):
    f(); xs = []
    for _ in range(R):
        t0 = time.perf_counter(); f(); xs.append((time.perf_counter() - t0) * 1000)
    return float(np.median(xs))
print(json.dumps({'FedAvg': t(lambda: aggregate(res)), 'FedMedian': t(lambda: aggregate_median(res)),
                  'FedTrimmedAvg': t(lambda: aggregate_trimmed_avg(res, 0.2))}))
`;

function peer(shapes: number[][]): Record<string, number> | null {
  if (flags.has('no-peer')) return null;
  const r = spawnSync(PYTHON, ['-c', PEER, JSON.stringify(shapes), String(K), String(repeats)], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } });
  if (r.status !== 0) { log(`peer unavailable: ${r.stderr.trim().split('\n').pop()}`); return null; }
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

for (const preset of presets) {
  const global = weightsOf(preset, 1);
  const params = [...global.values()].reduce((a, t) => a + t.data.length, 0);
  const deltas = Array.from({ length: K }, (_, k) => weightsOf(preset, 100 + k));
  const results: ClientResult[] = deltas.map((d, k) => ({ clientId: `c${k}`, delta: d, numExamples: 10 + k }));
  log(`${preset}: ${params} parameters, ${K} clients`);
  const bytes = encodeUpdate({ delta: deltas[0], numExamples: 10 }, { round: 1, clientId: 'c0' });
  const base = { bench: 'federated', preset, params, clients: K };
  emit({ ...base, op: 'encode', ms: round(time(() => encodeUpdate({ delta: deltas[0], numExamples: 10 }, { round: 1, clientId: 'c0' }))), bytes: bytes.byteLength });
  emit({ ...base, op: 'decode', ms: round(time(() => decodeUpdate(bytes))), bytes: bytes.byteLength });
  emit({ ...base, op: 'validate', ms: round(time(() => validateUpdate(deltas[0], global, 10))) });
  const py = peer([...global.values()].map((t) => t.shape));
  const trials: [string, () => unknown][] = [
    ['FedAvg', () => new FedAvg().aggregate(global, results, 1)],
    ['FedMedian', () => new FedMedian().aggregate(global, results, 1)],
    ['FedTrimmedAvg', () => new FedTrimmedAvg({ beta: 0.2 }).aggregate(global, results, 1)],
    ['FedYogi', () => new FedYogi().aggregate(global, results, 1)],
    ['dpNoisyMean', () => noisyClippedMean(global, deltas, { clipNorm: 1, noiseMultiplier: 1, denominator: K }, gaussianSource(uniformSource(1)))],
  ];
  for (const [op, fn] of trials) {
    const ms = time(fn);
    const peerMs = py?.[op];
    emit({ ...base, op, ms: round(ms), ...(peerMs !== undefined ? { peer: 'flwr numpy', peer_ms: round(peerMs), ratio: round(ms / peerMs, 2) } : {}) });
  }
}

if (!flags.has('no-round')) {
  // One simulated FedAvg round of the intent example: 5 clients x 2 local epochs on the tiny BERT.
  const tok = await publicTokenizer();
  const { train } = await intentData(tok);
  const cfg = tinyConfig(tok.vocabSize);
  const clients = Object.fromEntries(Array.from({ length: 5 }, (_, k) => [`c${k}`, new BertClient({ model: BertForSequenceClassification.create(cfg), examples: clientShard(train, k, 5) })]));
  const init = BertForSequenceClassification.create(cfg);
  const server = new FederatedServer(fromModel(init), { minClients: 5, fitConfig: { lr: 2e-3, localEpochs: 2 }, log: () => {} });
  await runSimulation(server, clients, { rounds: 1 });  // warm-up
  const t0 = now();
  await runSimulation(server, clients, { rounds: 3 });
  emit({ bench: 'federated', op: 'simulatedRound', preset: 'example(tiny, hidden 64)', params: [...server.global.values()].reduce((a, t) => a + t.data.length, 0), clients: 5, localEpochs: 2, examples: train.length, ms: round(((now() - t0) * 1000) / 3) });
}
