// One rank of the distributed Trainer test (run by bertorch-run): each rank
// trains on its own half of the examples and evaluates its half of the eval
// set; the Trainer gathers evaluation, so every rank must print the same metrics.
import { BertForSequenceClassification, initProcessGroup } from '../../lib/index.js';
import { ArraySource, Trainer, type Example } from '../../lib/train/index.js';

const [outDir, runsDir, accum = '1'] = process.argv.slice(2);
const pg = await initProcessGroup({ timeoutMs: 30_000 });
const tiny = { vocab_size: 60, hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 4, intermediate_size: 64, max_position_embeddings: 16, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0, id2label: { 0: 'a', 1: 'b' }, label2id: { a: 0, b: 1 } };
const examples = (n: number, off: number): Example[] => Array.from({ length: n }, (_, i) => {
  const label = (i + off) % 2;
  return { inputIds: Array.from({ length: 6 }, (_, j) => 5 + label * 25 + ((i * 7 + j) % 20)), label };
});
const mine = <T>(xs: T[]) => xs.filter((_, i) => i % pg.worldSize === pg.rank);
const model = BertForSequenceClassification.create(tiny, { seed: 100 + pg.rank });
const trainer = new Trainer(model, {
  processGroup: pg, epochs: 2 * Number(accum), lr: 5e-3, gradientAccumulationSteps: Number(accum), seed: 1, progress: 'none', outputDir: outDir, runsDir, runName: 'ddp',
  evalStrategy: 'epoch', saveStrategy: 'epoch',
});
await trainer.fit(new ArraySource(mine(examples(32, 0)), { batchSize: 4 }), { evalData: new ArraySource(mine(examples(16, 1)), { batchSize: 4 }) });
const metrics = await trainer.evaluate(new ArraySource(mine(examples(16, 1)), { batchSize: 4 }));
const first = model.stateDict().get('classifier.bias')!.toArray();
console.log(JSON.stringify({ rank: pg.rank, metrics, classifierBias: [...first], steps: model.optimizerStepCount, reducer: model.gradReducerStats }));
pg.destroy();
