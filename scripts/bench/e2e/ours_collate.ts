/**
 * What `bertorch finetune` spends on its data, without the model: the same
 * reader, tokenizer, DataLoader and classificationCollator the CLI builds
 * (lib/cli/finetune.ts), iterated over the training set for --epochs and over
 * the evaluation set once per epoch. bertorch tokenizes inside its collator,
 * batch by batch, so this is the tokenization + collation cost that the CLI's
 * train_s and eval_s contain (part of it may overlap the steps: the loader
 * prepares batches ahead). Also counts the padded shapes the model will see:
 * every distinct [batch, length] is a first use for the kernels.
 *
 *   npx tsx scripts/bench/e2e/ours_collate.ts --model DIR --train train.csv --eval eval.csv
 *       [--epochs 2] [--max-length 64] [--batch-size 32] [--eval-batch-size 64] [--seed 42]
 *
 * Prints one JSON line on stdout.
 */
import { classificationCollator, ClassificationDataset, DataLoader } from '../../../lib/data/index.js';
import { Tokenizer } from '../../../lib/tokenizer.js';
import { intFlag, now, parseFlags, round } from '../common.js';

const flags = parseFlags(process.argv.slice(2));
const need = (k: string) => {
  const v = flags.get(k);
  if (!v) throw new RangeError(`ours_collate: --${k} is required`);
  return v;
};
const epochs = intFlag(flags, 'epochs', 2);
const maxLength = intFlag(flags, 'max-length', 64);
const batchSize = intFlag(flags, 'batch-size', 32);
const evalBatchSize = intFlag(flags, 'eval-batch-size', 64);
const seed = intFlag(flags, 'seed', 42);

let t0 = now();
const tokenizer = await Tokenizer.fromPretrained(need('model'));
const train = await ClassificationDataset.fromFile(need('train'));
const evalSet = await ClassificationDataset.fromFile(need('eval'), { labels: [...train.labels] });
const loadS = now() - t0;
const collate = classificationCollator(tokenizer, { maxLength, problemType: train.problemType });

interface Tally { seconds: number; batches: number; real: number; padded: number; shapes: Set<string>; lengths: number[] }
async function pass(loader: DataLoader<never>, epoch: number, tally: Tally): Promise<void> {
  loader.setEpoch(epoch);
  const t = now();
  for await (const b of loader) {
    const [rows, len] = b.shape as [number, number];
    tally.batches++;
    tally.padded += rows * len;
    for (const m of b.attentionMask as BigInt64Array) tally.real += Number(m);
    tally.shapes.add(`${rows}x${len}`);
    tally.lengths.push(len);
  }
  tally.seconds += now() - t;
}
const trainLoader = new DataLoader(train as never, { batchSize, shuffle: true, seed, collate: collate as never });
const evalLoader = new DataLoader(evalSet as never, { batchSize: evalBatchSize, collate: collate as never });
const tr: Tally = { seconds: 0, batches: 0, real: 0, padded: 0, shapes: new Set(), lengths: [] };
const ev: Tally = { seconds: 0, batches: 0, real: 0, padded: 0, shapes: new Set(), lengths: [] };
t0 = now();
for (let e = 0; e < epochs; e++) {
  await pass(trainLoader as never, e, tr);
  await pass(evalLoader as never, 0, ev);
}
const lengths = [...tr.shapes].map((s) => Number(s.split('x')[1]));
process.stdout.write(JSON.stringify({
  impl: 'bertorch', load_s: round(loadS), tokenize_s: round(now() - t0), tokenize_train_s: round(tr.seconds), tokenize_eval_s: round(ev.seconds),
  train_batches: tr.batches, eval_batches: ev.batches,
  train_real_tokens: tr.real, train_padded_tokens: tr.padded, train_padding_share: round(1 - tr.real / tr.padded),
  eval_real_tokens: ev.real, eval_padded_tokens: ev.padded,
  train_shapes: tr.shapes.size, eval_shapes: ev.shapes.size, train_len_min: Math.min(...lengths), train_len_max: Math.max(...lengths),
  // The padded length of every training batch in order (the CLI's DataLoader has the same seed, so the same order).
  train_lengths: tr.lengths,
}) + '\n');
