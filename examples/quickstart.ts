// Fine-tune a tiny BERT on a labeled CSV, evaluate it, predict: the README's quick start.
//   npx tsx examples/quickstart.ts
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  BertForSequenceClassification, ClassificationDataset, DataLoader, Trainer, classificationCollator,
  createPredictor, trainWordPiece,
} from '../lib/index.js';

const dir = await mkdtemp(path.join(tmpdir(), 'bertorch-quickstart-'));
const rows = Array.from({ length: 120 }, (_, i) => (i % 2 ? `where is my parcel number ${i},shipping` : `please refund order ${i},refund`));
await writeFile(path.join(dir, 'train.csv'), 'text,label\n' + rows.join('\n') + '\n');

const tokenizer = await trainWordPiece({ files: [path.join(dir, 'train.csv')], vocabSize: 200 });
const train = await ClassificationDataset.fromFile(path.join(dir, 'train.csv'), { textColumn: 'text', labelColumn: 'label' });
const model = BertForSequenceClassification.create({
  vocab_size: tokenizer.vocabSize, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 128,
  max_position_embeddings: 64, id2label: Object.fromEntries(train.labels.map((l, i) => [String(i), l])), label2id: train.label2id,
});
const loader = new DataLoader(train, { batchSize: 16, shuffle: true, seed: 1, collate: classificationCollator(tokenizer, { maxLength: 32 }) });
const trainer = new Trainer(model, { epochs: 3, lr: 3e-3, outputDir: path.join(dir, 'out'), tokenizer });
await trainer.fit(loader, { evalData: loader });

await model.savePretrained(path.join(dir, 'model'));   // a HuggingFace folder
await tokenizer.save(path.join(dir, 'model'));
const predictor = await createPredictor(path.join(dir, 'model'));
console.log(await predictor.predict(['where is parcel 7', 'refund my order please']));
await predictor.close();
