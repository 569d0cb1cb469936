// Small, fast model folders with a real tokenizer (the MiniLM fixture's,
// whose vocabulary the tiny models' vocab_size matches): for tests of what
// the CLI writes, where the model's quality does not matter.
import { cp } from 'node:fs/promises';
import { BertForSequenceClassification, BertForTokenClassification } from '../../lib/index.js';
import { folder } from './hf-folders.js';

const TINY = { vocab_size: 30522, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 64, max_position_embeddings: 512 };

export async function tinyClassifierFolder(dir: string, labels: readonly string[], seed: number,
  { token = false, config = {} }: { token?: boolean; config?: Record<string, unknown> } = {}): Promise<void> {
  await cp(folder('minilm'), dir, { recursive: true });
  const full = {
    ...TINY, ...config,
    id2label: Object.fromEntries(labels.map((l, i) => [i, l])), label2id: Object.fromEntries(labels.map((l, i) => [l, i])),
  };
  const model = token ? BertForTokenClassification.create(full as never, { seed }) : BertForSequenceClassification.create(full as never, { seed });
  await model.savePretrained(dir);
  model.dispose();
}
