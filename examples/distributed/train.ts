// Data-parallel fine-tuning on the synthetic intents, one process per rank:
//   npx bertorch-run --nproc 2 examples/distributed/train.ts
// Each rank reads its own shard; the Trainer averages gradients over Gloo,
// gathers the evaluation, and only rank 0 writes out/ and runs/.
import { BertForSequenceClassification, initProcessGroup } from '../../lib/index.js';
import { ArraySource, Trainer, type Example } from '../../lib/train/index.js';

const pg = await initProcessGroup();
const labels = ['refund', 'shipping'];
const words = [['refund', 'money', 'back', 'return', 'charge'], ['where', 'parcel', 'delivery', 'track', 'shipping']];
// A toy corpus of word ids; real code tokenizes text with lib/tokenizer and lib/data's collators.
const examples: Example[] = Array.from({ length: 64 }, (_, i) => ({
  inputIds: [2, ...Array.from({ length: 6 }, (_, j) => 10 + (i % 2) * 20 + ((i * 3 + j) % words[i % 2].length)), 3],
  label: i % 2,
}));
const shard = (xs: Example[]) => xs.filter((_, i) => i % pg.worldSize === pg.rank);
const model = BertForSequenceClassification.create({
  vocab_size: 64, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 128, max_position_embeddings: 32,
  id2label: { 0: labels[0], 1: labels[1] }, label2id: { [labels[0]]: 0, [labels[1]]: 1 },
});
const trainer = new Trainer(model, { processGroup: pg, epochs: 3, lr: 3e-3, outputDir: 'out/ddp', runName: 'ddp', evalStrategy: 'epoch' });
await trainer.fit(new ArraySource(shard(examples), { batchSize: 8, shuffle: true, seed: 1 }), { evalData: new ArraySource(shard(examples.slice(0, 16)), { batchSize: 8 }) });
// evaluate() is collective under a process group: every rank calls it.
const metrics = await trainer.evaluate(new ArraySource(shard(examples.slice(0, 16)), { batchSize: 8 }));
if (pg.rank === 0) console.log(metrics);
pg.destroy();
