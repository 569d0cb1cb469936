/**
 * Federated learning in one process: 5 simulated clients with label-skewed
 * shards of the synthetic intents, against centralised training with the
 * same budget (rounds x local epochs passes over the data). About 30 s on 2 CPU cores.
 *
 *   npx tsx examples/federated/simulate.ts [--strategy fedavg|fedprox|fedadam|fedyogi|median|trimmed]
 *     [--rounds 15] [--local-epochs 2] [--alpha 0.3] [--dp-clip 1 --dp-noise 0.5]
 */
import { parseArgs } from 'node:util';
import { BertForSequenceClassification } from '../../lib/index.js';
import {
  BertClient, evaluateClassifier, FedAdam, FedAvg, FederatedServer, FedMedian, FedProx, FedTrimmedAvg, FedYogi, fromModel, runSimulation, toModel,
  type FederatedStrategy,
} from '../../lib/federated/index.js';
import { clientShard, intentData, labelHistogram, publicTokenizer, tinyConfig } from './task.js';

const { values: a } = parseArgs({
  options: {
    strategy: { type: 'string', default: 'fedavg' }, rounds: { type: 'string', default: '15' }, 'local-epochs': { type: 'string', default: '2' },
    alpha: { type: 'string', default: '0.3' }, lr: { type: 'string', default: '2e-3' }, 'dp-clip': { type: 'string' }, 'dp-noise': { type: 'string' },
  },
});
const rounds = Number(a.rounds), localEpochs = Number(a['local-epochs']), lr = Number(a.lr);
const strategies: Record<string, () => FederatedStrategy> = {
  fedavg: () => new FedAvg(), fedprox: () => new FedProx({ proximalMu: 0.01 }), fedadam: () => new FedAdam({ eta: 1e-2 }),
  fedyogi: () => new FedYogi({ eta: 1e-2 }), median: () => new FedMedian(), trimmed: () => new FedTrimmedAvg({ beta: 0.2 }),
};

const tok = await publicTokenizer();
const { train, test } = await intentData(tok);
const cfg = tinyConfig(tok.vocabSize);
const shards = Array.from({ length: 5 }, (_, k) => clientShard(train, k, 5, { alpha: Number(a.alpha) }));
shards.forEach((s, k) => console.log(`client ${k}: ${s.length} examples (label:count ${labelHistogram(s)})`));

// Centralised baseline: all data in one place, rounds x localEpochs epochs.
const central = BertForSequenceClassification.create(cfg, { seed: 1 });
await runSimulation(new FederatedServer(fromModel(central), { minClients: 1, fitConfig: { lr, localEpochs: rounds * localEpochs }, log: () => {} }),
  { all: new BertClient({ model: central, examples: train }) }, { rounds: 1 });
const centralAcc = (await evaluateClassifier(central, test)).accuracy;

const evalModel = BertForSequenceClassification.create(cfg, { seed: 1 });
const server = new FederatedServer(fromModel(evalModel), {
  strategy: strategies[a.strategy!](), minClients: 5, seed: 1, fitConfig: { lr, localEpochs, batchSize: 16 },
  dp: a['dp-clip'] ? { clipNorm: Number(a['dp-clip']), noiseMultiplier: Number(a['dp-noise'] ?? 1) } : undefined,
  evaluate: async (w) => { toModel(evalModel, w); return evaluateClassifier(evalModel, test); },
});
const clients = Object.fromEntries(shards.map((s, k) => [`client-${k}`, new BertClient({ model: BertForSequenceClassification.create(cfg, { seed: 1 }), examples: s })]));
const history = await runSimulation(server, clients, { rounds });
const fed = history.at(-1)!;
console.log(`\ncentralised accuracy ${centralAcc.toFixed(3)}; ${server.strategy.name} after ${rounds} rounds ${fed.metrics!.accuracy.toFixed(3)}` +
  `${fed.privacy ? ` at (epsilon ${fed.privacy.epsilon.toFixed(2)}, delta ${fed.privacy.delta})` : ''}`);
