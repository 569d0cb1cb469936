// DataLoader tests: sequential and seeded shuffled orders, DistributedSampler
// semantics (disjoint shares padded to equal length, the same permutation on
// every rank, reshuffled per epoch), dropLast, length bucketing, batches
// prepared ahead of the consumer, and resume yielding exactly the remaining
// batches, also through a tokenizing collator and an MLM pipeline.

import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer } from '../lib/tokenizer.js';
import { DataLoader, rankIndices, type LoaderDataset } from '../lib/data/loader.js';
import { classificationCollator, mlmCollator, type Batch, type Collate } from '../lib/data/collate.js';
import { MlmDataset } from '../lib/data/datasets.js';
import { ShardReader, writeShards } from '../lib/data/shards.js';

// A dataset of its own indices; the collate puts them in inputIds.
function numbers(n: number, lengthOf?: (i: number) => number): LoaderDataset<number> & { gets: number } {
  const data = { length: n, gets: 0, get: (i: number) => (data.gets++, i), lengthOf };
  return data;
}
const collateIndices: Collate<number> = (examples) => ({
  inputIds: BigInt64Array.from(examples, BigInt),
  attentionMask: new BigInt64Array(examples.length).fill(1n),
  tokenTypeIds: new BigInt64Array(examples.length),
  shape: [examples.length, 1],
});

async function collect(loader: DataLoader<number>, limit = Infinity): Promise<number[][]> {
  const out: number[][] = [];
  for await (const batch of loader) {
    out.push([...batch.inputIds].map(Number));
    if (out.length >= limit) break;
  }
  return out;
}

test('without shuffle, batches follow the dataset order and the last one may be short', async (t) => {
  const loader = new DataLoader(numbers(10), { batchSize: 4, collate: collateIndices });
  t.is(loader.length, 3);
  t.deepEqual(await collect(loader), [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
  const dropped = new DataLoader(numbers(10), { batchSize: 4, collate: collateIndices, dropLast: true });
  t.is(dropped.length, 2);
  t.deepEqual(await collect(dropped), [[0, 1, 2, 3], [4, 5, 6, 7]]);
  t.deepEqual(await collect(new DataLoader(numbers(0), { batchSize: 4, collate: collateIndices })), []);
});

test('shuffling is a permutation fixed by seed and epoch, new each epoch', async (t) => {
  const make = (seed: number) => new DataLoader(numbers(100), { batchSize: 8, shuffle: true, seed, collate: collateIndices });
  const a = make(1);
  const first = (await collect(a)).flat();
  t.deepEqual([...first].sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i));
  t.deepEqual((await collect(make(1))).flat(), first);
  t.deepEqual((await collect(a)).flat(), first, 'the same epoch again gives the same order');
  a.setEpoch(1);
  t.notDeepEqual((await collect(a)).flat(), first);
  t.notDeepEqual((await collect(make(2))).flat(), first);
});

test('ranks get disjoint, equal shares of one permutation, padded by repeating', async (t) => {
  for (const n of [12, 10, 2]) {
    const shares = [0, 1, 2].map((rank) => rankIndices(n, true, 7, 3, rank, 3));
    const per = Math.ceil(n / 3);
    for (const share of shares) t.is(share.length, per);
    const all = shares.flat();
    t.deepEqual([...new Set(all)].sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i), `n=${n} covers the dataset`);
    t.is(all.length - new Set(all).size, per * 3 - n, `n=${n} repeats only the padding`);
  }
  // As PyTorch's DistributedSampler: rank r takes positions r, r + W, ... of the padded order.
  t.deepEqual(rankIndices(10, false, 0, 0, 1, 4), [1, 5, 9]);
  t.deepEqual(rankIndices(10, false, 0, 0, 3, 4), [3, 7, 1]);
  const loaders = [0, 1].map((rank) => new DataLoader(numbers(21), { batchSize: 4, shuffle: true, seed: 5, rank, worldSize: 2, collate: collateIndices }));
  const epoch0 = await Promise.all(loaders.map((l) => collect(l)));
  t.deepEqual(loaders.map((l) => l.length), [3, 3]);
  t.deepEqual(epoch0.map((b) => b.flat().length), [11, 11]);
  loaders.forEach((l) => l.setEpoch(1));
  const epoch1 = await Promise.all(loaders.map((l) => collect(l)));
  t.notDeepEqual(epoch1[0], epoch0[0]);
  t.is(new Set([...epoch1[0].flat(), ...epoch1[1].flat()]).size, 21);
  t.throws(() => new DataLoader(numbers(4), { batchSize: 1, rank: 2, worldSize: 2, collate: collateIndices }), { instanceOf: RangeError, message: /for rank/ });
});

test('bucketing by length groups similar lengths and still covers every example once', async (t) => {
  const lengthOf = (i: number) => (i * 7919) % 500;
  const loader = new DataLoader(numbers(1000, lengthOf), { batchSize: 10, shuffle: true, seed: 1, bucketByLength: true, collate: collateIndices });
  const batches = await collect(loader);
  t.deepEqual(batches.flat().sort((a, b) => a - b), Array.from({ length: 1000 }, (_, i) => i));
  const spread = (batch: number[]) => Math.max(...batch.map(lengthOf)) - Math.min(...batch.map(lengthOf));
  const bucketed = batches.reduce((sum, b) => sum + spread(b), 0) / batches.length;
  const plain = (await collect(new DataLoader(numbers(1000), { batchSize: 10, shuffle: true, seed: 1, collate: collateIndices })));
  const random = plain.reduce((sum, b) => sum + spread(b), 0) / plain.length;
  t.true(bucketed * 5 < random, `mean spread ${bucketed} bucketed vs ${random}`);
  t.deepEqual(await collect(new DataLoader(numbers(1000, lengthOf), { batchSize: 10, shuffle: true, seed: 1, bucketByLength: true, collate: collateIndices })), batches);
  t.throws(() => new DataLoader(numbers(5), { batchSize: 2, bucketByLength: true, collate: collateIndices }), { instanceOf: TypeError, message: /lengthOf/ });
});

test('the next batches are prepared while the consumer awaits', async (t) => {
  const data = numbers(40);
  const prepared: number[] = [];
  const collate: Collate<number> = async (examples, context) => {
    prepared.push(context.indices[0]);
    return collateIndices(examples, context);
  };
  const loader = new DataLoader(data, { batchSize: 4, collate, prefetch: 2 });
  for await (const batch of loader) {
    t.is(Number(batch.inputIds[0]), 0);
    await new Promise((resolve) => setTimeout(resolve, 20)); // a training step
    t.deepEqual(prepared, [0, 4, 8], 'batches 1 and 2 were built during the step, and no more');
    break;
  }
});

test('a resumed loader yields exactly the remaining batches of the epoch', async (t) => {
  const options = { batchSize: 3, shuffle: true, seed: 9, worldSize: 2, rank: 1, collate: collateIndices };
  const full = new DataLoader(numbers(50), options);
  full.setEpoch(2);
  const all = await collect(full);
  const first = new DataLoader(numbers(50), options);
  first.setEpoch(2);
  const head = await collect(first, 4);
  t.deepEqual(head, all.slice(0, 4));
  const state = first.state();
  t.deepEqual(state, { epoch: 2, index: 4 });
  const resumed = new DataLoader(numbers(50), options);
  resumed.resume(JSON.parse(JSON.stringify(state)));
  resumed.setEpoch(2); // a training loop sets the epoch again; the position is kept
  t.deepEqual(await collect(resumed), all.slice(4));
  t.deepEqual(resumed.state(), { epoch: 2, index: 0 });
  t.deepEqual(await collect(resumed), all, 'the next pass is the whole epoch');
  const atEnd = new DataLoader(numbers(50), options);
  atEnd.resume({ epoch: 2, index: all.length });
  t.deepEqual(await collect(atEnd), []);
  t.throws(() => atEnd.resume({ epoch: 0, index: all.length + 1 }), { instanceOf: RangeError, message: /state.index/ });
});

test('a second iteration while one is running is refused, and collate errors reach the consumer', async (t) => {
  const loader = new DataLoader(numbers(10), { batchSize: 2, collate: collateIndices });
  const iterator = loader[Symbol.asyncIterator]();
  await iterator.next();
  await t.throwsAsync(loader[Symbol.asyncIterator]().next(), { message: /already being iterated/ });
  await iterator.return(undefined);
  t.is((await collect(loader)).length, 4, 'a loop broken off early is continued by the next one');
  t.is((await collect(loader)).length, 5);
  const failing = new DataLoader(numbers(10), {
    batchSize: 2,
    collate: (examples, context) => {
      if (context.indices.includes(5)) throw new Error('bad example 5');
      return collateIndices(examples, context);
    },
  });
  await t.throwsAsync(collect(failing), { message: 'bad example 5' });
  t.deepEqual(failing.state(), { epoch: 0, index: 2 });
});

test('classification and MLM pipelines give identical batches on rerun and on resume', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'bertorch-loader-test-'));
  try {
    const vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'the', 'cat', 'sat', 'on', 'mat', '##s', 'a', 'dog'];
    await writeFile(join(root, 'vocab.txt'), vocab.join('\n') + '\n');
    const tokenizer = await Tokenizer.fromVocab(join(root, 'vocab.txt'));
    const texts = Array.from({ length: 60 }, (_, i) => ['the cat sat', 'a dog sat on the mats', 'cats', 'the dog'][i % 4] + ' the cat'.repeat(i % 5));
    const labeled = { length: texts.length, get: (i: number) => ({ text: texts[i], label: i % 3 }), lengthOf: (i: number) => texts[i].length };
    const collate = classificationCollator(tokenizer, { padToMultipleOf: 8 });
    const make = () => new DataLoader(labeled, { batchSize: 8, shuffle: true, seed: 4, bucketByLength: true, collate });
    const run = async (loader: DataLoader<unknown>, limit = Infinity) => {
      const out: Batch[] = [];
      for await (const batch of loader) if (out.push(batch) >= limit) break;
      return out;
    };
    const all = await run(make() as DataLoader<unknown>);
    t.is(all.length, 8);
    for (const batch of all) {
      t.is(batch.shape[1] % 8, 0);
      t.is(batch.inputIds.length, batch.shape[0] * batch.shape[1]);
      t.true(batch.labels instanceof BigInt64Array);
    }
    const first = make();
    await run(first as DataLoader<unknown>, 3);
    const resumed = make();
    resumed.resume(first.state());
    t.deepEqual(await run(resumed as DataLoader<unknown>), all.slice(3));

    await writeShards({ texts, tokenizer, outDir: join(root, 'shards'), workers: 2, progress: false });
    const reader = await ShardReader.open(join(root, 'shards'), { tokenizer });
    const mlm = new MlmDataset(reader, { blockSize: 16, tokenizer, seed: 1 });
    const makeMlm = () => new DataLoader(mlm, { batchSize: 4, shuffle: true, seed: 2, collate: mlmCollator() });
    const mlmAll = await run(makeMlm() as DataLoader<unknown>);
    t.deepEqual(mlmAll[0].shape, [4, 16]);
    t.deepEqual(await run(makeMlm() as DataLoader<unknown>), mlmAll);
    const part = makeMlm();
    await run(part as DataLoader<unknown>, 2);
    const rest = makeMlm();
    rest.resume(part.state());
    t.deepEqual(await run(rest as DataLoader<unknown>), mlmAll.slice(2));
    const nextEpoch = makeMlm();
    nextEpoch.setEpoch(1);
    t.notDeepEqual((await run(nextEpoch as DataLoader<unknown>))[0].labels, mlmAll[0].labels);
    reader.close();
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
