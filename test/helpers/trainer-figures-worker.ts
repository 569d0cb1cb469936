// One process of the "same figures on N ranks as on one" test, run by
// bertorch-run with --nproc 1 (no process group: the plain single-process
// Trainer) or --nproc 2. The global batch is 8 either way (8 / worldSize per
// rank, rank r taking every worldSize-th example), so both runs see the same
// batches; the eval set of 15 examples does not split evenly, so a padded
// shard would count one example twice.
import { DataLoader } from '../../lib/data/index.js';
import { BertForSequenceClassification, initProcessGroup } from '../../lib/index.js';
import { ArraySource, collateExamples, Trainer, type Example } from '../../lib/train/index.js';

const world = Number(process.env.WORLD_SIZE ?? 1);
const pg = world > 1 ? await initProcessGroup({ timeoutMs: 30_000 }) : undefined;
const rank = pg?.rank ?? 0;
const tiny = { vocab_size: 60, hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 4, intermediate_size: 64, max_position_embeddings: 16, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0, id2label: { 0: 'a', 1: 'b' }, label2id: { a: 0, b: 1 } };
const examples = (n: number, off: number): Example[] => Array.from({ length: n }, (_, i) => {
  const label = ((i * 5 + off) % 3) % 2;
  return { inputIds: Array.from({ length: 4 + (i % 3) }, (_, j) => 5 + label * 25 + ((i * 7 + j * 3 + off) % 20)), label };
});
const mine = <T>(xs: T[]) => xs.filter((_, i) => i % world === rank);
const model = BertForSequenceClassification.create(tiny, { seed: 7 });
const evalSet = examples(15, 1);
const evalLoader = () => new DataLoader({ length: evalSet.length, get: (i: number) => evalSet[i] }, {
  batchSize: 4, rank, worldSize: world, collate: (xs: Example[]) => collateExamples(xs) as never,
});
const trainer = new Trainer(model, { processGroup: pg, epochs: 2, lr: 5e-3, loggingSteps: 2, evalStrategy: 'epoch', seed: 1, progress: 'none' });
const result = await trainer.fit(new ArraySource(mine(examples(64, 0)), { batchSize: 8 / world }), { evalData: evalLoader() as never });
const metrics = await trainer.evaluate(evalLoader() as never);
const logged = result.state.log_history.map((r) => ({ step: r.step, loss: r.loss, eval_loss: r.eval_loss, eval_accuracy: r.eval_accuracy }));
console.log(JSON.stringify({ rank, world, trainLoss: result.trainLoss, logged, metrics, samples: result.samplesPerSecond * result.runtime }));
pg?.destroy();
