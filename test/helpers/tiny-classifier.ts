// A small, fast sequence classifier folder with a real tokenizer (the MiniLM
// fixture's, whose vocabulary the tiny model's vocab_size matches): for
// tests of what the CLI writes, where the model's quality does not matter.
import { cp } from 'node:fs/promises';
import { BertForSequenceClassification } from '../../lib/index.js';
import { folder } from './hf-folders.js';

export async function tinyClassifierFolder(dir: string, labels: readonly string[], seed: number): Promise<void> {
  await cp(folder('minilm'), dir, { recursive: true });
  const model = BertForSequenceClassification.create({
    vocab_size: 30522, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 64, max_position_embeddings: 512,
    id2label: Object.fromEntries(labels.map((l, i) => [i, l])), label2id: Object.fromEntries(labels.map((l, i) => [l, i])),
  }, { seed });
  await model.savePretrained(dir);
  model.dispose();
}
