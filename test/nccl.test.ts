// NCCL on one GPU (world size 1): a collective on CUDA tensors, and a Trainer
// over the group. A file of its own: NCCL start-up or teardown going wrong on
// an unusual machine then costs this file's process, not the other CUDA tests.
import test from 'ava';
import { BertForSequenceClassification, info, randn } from '../lib/index.js';

const gpu = info().cudaAvailable;
const nccl = gpu && info().distributedBackends.includes('nccl') ? test.serial : test.skip;

nccl('an NCCL group reduces CUDA tensors and a Trainer trains over it (one rank)', async (t) => {
  const { initProcessGroup } = await import('../lib/distributed/index.js');
  const { freePort } = await import('../lib/distributed/launcher.js');
  const { Trainer, ArraySource } = await import('../lib/train/index.js');
  const pg = await initProcessGroup({ backend: 'nccl', worldSize: 1, rank: 0, masterPort: await freePort(), timeoutMs: 60_000 });
  t.is(pg.device, 'cuda:0');
  const x = randn([1000], { seed: 5 }).to('cuda');
  const before = x.toArray() as Float32Array;
  await pg.allReduce(x, 'avg');
  const after = (await x.data()) as Float32Array;
  t.true(after.every((v, i) => Math.abs(v - before[i]) < 1e-6));
  const m = BertForSequenceClassification.create({ vocab_size: 100, hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 4, intermediate_size: 64, max_position_embeddings: 16, id2label: { 0: 'a', 1: 'b' }, label2id: { a: 0, b: 1 } });
  const examples = Array.from({ length: 32 }, (_, i) => ({ inputIds: Array.from({ length: 8 }, (_, j) => 5 + ((i * 3 + j) % 90)), label: i % 2 }));
  const r = await new Trainer(m, { epochs: 1, lr: 1e-3, progress: 'none', processGroup: pg }).fit(new ArraySource(examples, { batchSize: 8 }), { evalData: new ArraySource(examples, { batchSize: 8 }) });
  t.true(m.device.startsWith('cuda'));
  t.true(Number.isFinite(r.trainLoss));
  t.true((m.gradReducerStats?.reductions ?? 0) > 0);
  pg.destroy();
  m.dispose();
});
