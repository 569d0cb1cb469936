// MLM pretraining from the Spark job's Parquet shards, one process per rank:
//   npx bertorch-run --nproc 2 examples/spark-prep/pretrain.ts <shards> <out> [steps]
// Rank 0 trains the WordPiece tokenizer over the training shards; after a
// barrier every rank reads only its own row groups (readTable's rank split,
// deterministic from the seed and the world size), tokenizes them into its
// own token shards, and the Trainer averages gradients over Gloo. Each rank
// writes the rows it read (file and row) to <out>/rank-<r>.json, so a test
// can check that the ranks together read every row exactly once; rank 0
// saves the model and tokenizer to <out>.
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  BertForMaskedLM, DataLoader, initProcessGroup, mlmCollator, MlmDataset, readTable, ShardReader, Tokenizer, trainWordPiece, writeShards,
} from '../../lib/index.js';
import { Trainer } from '../../lib/train/index.js';

const [shards, out, stepsArg] = process.argv.slice(2);
if (!shards || !out) throw new Error('usage: bertorch-run --nproc N examples/spark-prep/pretrain.ts <shards> <out> [steps]');
const steps = Number(stepsArg ?? 200);
const SEED = 42;
const pg = await initProcessGroup();
const dir = path.join(shards, 'train');
const files = (await readdir(dir)).filter((f) => f.endsWith('.parquet')).sort().map((f) => path.join(dir, f));
if (files.length === 0) throw new Error(`no .parquet files in ${dir}: run prep.py first`);

const tokenizerDir = path.join(out, 'tokenizer');
if (pg.rank === 0) {
  const texts = (async function* () {
    for await (const r of readTable(files, { columns: ['text'] })) yield r.values.text as string;
  })();
  await mkdir(out, { recursive: true });
  await (await trainWordPiece({ iterator: texts, vocabSize: 2000 })).save(tokenizerDir);
}
await pg.barrier();
const tokenizer = await Tokenizer.fromPretrained(tokenizerDir);

const rows: string[] = [];
const mine = (async function* () {
  for await (const r of readTable(files, { columns: ['text'], rank: pg.rank, worldSize: pg.worldSize, seed: SEED, epoch: 0 })) {
    rows.push(`${path.basename(r.file)}:${r.row}`);
    yield r.values.text as string;
  }
})();
const shardDir = path.join(out, 'token-shards', `rank-${pg.rank}`);
await writeShards({ texts: mine, tokenizer, outDir: shardDir, workers: 1, progress: false });
await writeFile(path.join(out, `rank-${pg.rank}.json`), JSON.stringify(rows));

const reader = await ShardReader.open(shardDir, { tokenizer });
const data = new MlmDataset(reader, { blockSize: 64, tokenizer, seed: SEED + pg.rank });
const train = new DataLoader(data, { batchSize: 16, shuffle: true, seed: SEED + pg.rank, collate: mlmCollator({ padId: tokenizer.specialTokenIds.pad }) });
const model = BertForMaskedLM.create({
  vocab_size: tokenizer.vocabSize, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 128,
  max_position_embeddings: 64, pad_token_id: tokenizer.specialTokenIds.pad,
}, { seed: SEED });
// maxSteps, not epochs: the ranks' shares differ by up to a row group, and every rank must take the same steps.
const trainer = new Trainer(model, { processGroup: pg, maxSteps: steps, lr: 2e-3, warmupRatio: 0.1, loggingSteps: Math.max(1, Math.floor(steps / 5)), progress: 'none', outputDir: path.join(out, 'checkpoints') });
const r = await trainer.fit(train);
const losses = r.state.log_history.flatMap((x) => (typeof x.loss === 'number' ? [x.loss] : []));
if (pg.rank === 0) {
  await model.savePretrained(out);
  await tokenizer.save(out);
}
console.log(JSON.stringify({ rank: pg.rank, worldSize: pg.worldSize, rows: rows.length, blocks: data.length, steps: r.globalStep, losses }));
reader.close();
model.dispose();
pg.destroy();
