// Federated training of a tiny BERT in one process: five clients with
// label-skewed shards of the synthetic intents against centralised training
// with the same budget; bad updates (NaN, huge norm) rejected while training
// goes on; FedProx's proximal step; model <-> weights round trip.
import test from 'ava';
import { BertForSequenceClassification } from '../lib/index.js';
import {
  BertClient, evaluateClassifier, FedAvg, FederatedServer, FedProx, fromModel, l2Norm, runSimulation, toModel,
  type FederatedClient, type Weights,
} from '../lib/federated/index.js';
import type { Example } from '../lib/train/index.js';
import { clientShard, intentData, labelHistogram, publicTokenizer, tinyConfig } from '../examples/federated/task.js';

const tok = await publicTokenizer();
const { train, test: testSet } = await intentData(tok);
const config = tinyConfig(tok.vocabSize);
const model = (seed = 1) => BertForSequenceClassification.create(config, { seed });
const allFinite = (w: Weights) => [...w.values()].every((t) => t.data.every(Number.isFinite));

test.serial('5 non-IID clients reach centralised accuracy within 3 points at the same budget', async (t) => {
  // Budget: 30 passes over the 480 training messages, batch 16, AdamW lr 2e-3, in both runs.
  const ROUNDS = 15, LOCAL_EPOCHS = 2, lr = 2e-3;
  const t0 = performance.now();
  // Centralised: one "client" holding all the data, one round of 30 epochs (the same training code).
  const central = model();
  const init = fromModel(central);
  await runSimulation(new FederatedServer(init, { minClients: 1, seed: 1, fitConfig: { lr, localEpochs: ROUNDS * LOCAL_EPOCHS }, log: () => {} }),
    { all: new BertClient({ model: central, examples: train }) }, { rounds: 1 });
  // runSimulation trained `central` in place; the server's global is the same weights.
  const centralAcc = (await evaluateClassifier(central, testSet)).accuracy;
  const tCentral = (performance.now() - t0) / 1000;

  const shards = Array.from({ length: 5 }, (_, k) => clientShard(train, k, 5, { alpha: 0.3, seed: 3 }));
  for (const [k, s] of shards.entries()) t.log(`client ${k}: ${s.length} examples, label:count ${labelHistogram(s)}`);
  t.true(shards.some((s) => new Set(s.map((e) => e.label)).size <= 7), 'the split is label-skewed');
  const evalModel = model();
  const server = new FederatedServer(init, {
    strategy: new FedAvg(), minClients: 5, seed: 1, fitConfig: { lr, localEpochs: LOCAL_EPOCHS, batchSize: 16 }, log: () => {},
    evaluate: async (w) => { toModel(evalModel, w); return evaluateClassifier(evalModel, testSet); },
  });
  const clients = Object.fromEntries(shards.map((s, k) => [`client${k}`, new BertClient({ model: model(), examples: s })]));
  const t1 = performance.now();
  const history = await runSimulation(server, clients, { rounds: ROUNDS });
  const fedAcc = history.at(-1)!.metrics!.accuracy;
  t.log(`accuracy on ${testSet.length} test messages: centralised ${centralAcc.toFixed(4)} (${tCentral.toFixed(1)} s), ` +
    `FedAvg ${fedAcc.toFixed(4)} after ${ROUNDS} rounds x ${LOCAL_EPOCHS} local epochs (${((performance.now() - t1) / 1000).toFixed(1)} s)`);
  t.log(`FedAvg accuracy by round: ${history.map((h) => h.metrics!.accuracy.toFixed(3)).join(' ')}`);
  t.true(centralAcc > 0.9, `centralised training learns the task (${centralAcc})`);
  t.true(fedAcc >= centralAcc - 0.03, `FedAvg ${fedAcc} vs centralised ${centralAcc}`);
  t.true(history.every((h) => h.status === 'aggregated' && h.accepted.length === 5 && h.rejected.length === 0));
});

test.serial('NaN and huge-norm updates are rejected with a logged reason; the model stays finite and keeps learning', async (t) => {
  const lines: string[] = [];
  const shards = Array.from({ length: 3 }, (_, k) => clientShard(train, k, 3, { alpha: 1, seed: 7 }));
  const honest = shards.map((s) => new BertClient({ model: model(), examples: s }));
  const poisoned = (corrupt: (w: Weights) => void): FederatedClient => ({
    async fit(global, cfg) {
      const u = await honest[0].fit(global, cfg);
      corrupt(u.delta);
      return u;
    },
  });
  const nan = poisoned((d) => { d.values().next().value!.data[3] = NaN; });
  const huge = poisoned((d) => { for (const t of d.values()) t.data.fill(1e6); });
  const broken: FederatedClient = { fit: async () => { throw new Error('disk full'); } };
  const evalModel = model();
  const start = fromModel(evalModel);
  const before = (await evaluateClassifier(evalModel, testSet)).accuracy;
  const server = new FederatedServer(start, {
    minClients: 2, seed: 2, fitConfig: { lr: 2e-3, localEpochs: 2 }, validation: { maxUpdateNorm: 100 }, log: (l) => lines.push(l),
    evaluate: async (w) => { toModel(evalModel, w); return evaluateClassifier(evalModel, testSet); },
  });
  const history = await runSimulation(server, { a: honest[0], b: honest[1], c: honest[2], nan, huge, broken }, { rounds: 3 });
  for (const h of history) {
    t.is(h.status, 'aggregated');
    t.deepEqual(h.accepted.map((a) => a.clientId), ['a', 'b', 'c']);
    t.deepEqual(h.rejected.map((r) => [r.clientId, r.reason]), [['huge', 'norm'], ['nan', 'nonfinite']]);
    t.deepEqual(h.failed.map((f) => f.clientId), ['broken']);
  }
  t.true(lines.some((l) => /rejected the update of nan: nonfinite: .*NaN/.test(l)), lines.join('\n'));
  t.true(lines.some((l) => /rejected the update of huge: norm: update L2 norm .* exceeds maxUpdateNorm 100/.test(l)));
  t.true(allFinite(server.global));
  const after = history.at(-1)!.metrics!.accuracy;
  t.log(`accuracy ${before.toFixed(3)} -> ${after.toFixed(3)} in 3 rounds; every round rejected 2 poisoned updates and noted 1 failed client`);
  t.true(after > before + 0.2);
});

test.serial('FedProx pulls local weights towards the global ones: lr * mu = 1 gives a zero update', async (t) => {
  const examples: Example[] = train.slice(0, 32);
  const c = new BertClient({ model: model(), examples, localEpochs: 1, batchSize: 16 });
  const global = fromModel(model(5));
  const cfg = { round: 1, localEpochs: 1, batchSize: 16, lr: 1e-3, maxGradNorm: 1, seed: 1 };
  const plain = await c.fit(global, { ...cfg, proximalMu: 0 });
  const weak = await c.fit(global, { ...cfg, proximalMu: 10 });
  const full = await c.fit(global, { ...cfg, proximalMu: 1000 });  // lr * mu = 1: w <- w_global after every step
  t.log(`update norms: mu 0 ${l2Norm(plain.delta).toFixed(4)}, mu 10 ${l2Norm(weak.delta).toFixed(4)}, mu 1000 ${l2Norm(full.delta)}`);
  t.true(l2Norm(weak.delta) < l2Norm(plain.delta));
  t.is(l2Norm(full.delta), 0);
  t.deepEqual(new FedProx({ proximalMu: 10 }).configureFit(), { proximalMu: 10 });
});

test('weights round-trip between a model and plain Float32Arrays', (t) => {
  const a = model(1), b = model(2);
  const w = fromModel(a);
  t.deepEqual([...w.keys()], a.parameterNames());
  t.true([...w.values()].every((x) => x.data instanceof Float32Array));
  toModel(b, w);
  const wb = fromModel(b);
  for (const [k, x] of w) t.deepEqual(wb.get(k)!.data, x.data);
  const missing = new Map(w);
  missing.delete('classifier.bias');
  t.throws(() => toModel(b, missing), { instanceOf: RangeError, message: /missing classifier.bias/ });
});
