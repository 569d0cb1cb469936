/**
 * The example task shared by the federated examples, tests and benchmark:
 * intent classification (12 intents) on lib/synth's customer-service
 * messages with a tiny BERT. The tokenizer is trained on public unlabeled
 * text; each client's labeled shard is a label-skewed (Dirichlet) slice of
 * one seeded labeled set. In this simulation a client process re-derives its
 * own shard from the seed; in real use it would read its own files, and in
 * both cases only weight updates leave it.
 */
import { labelMaps, type BertConfig } from '../../lib/index.js';
import { partitionByLabel } from '../../lib/federated/partition.js';
import { CustomerServiceGenerator } from '../../lib/synth/index.js';
import { trainWordPiece, type Tokenizer } from '../../lib/tokenizer.js';
import type { Example } from '../../lib/train/index.js';

export interface IntentTaskOptions {
  /** Seed of the generator (data) . @default 1 */
  seed?: number;
  /** Labeled training messages per intent (12 intents). @default 40 */
  perIntent?: number;
  /** Test messages per intent, drawn afresh from the same paraphrase pool. @default 20 */
  testPerIntent?: number;
  /** @default 32 */
  maxLength?: number;
}

/** A WordPiece vocabulary from public unlabeled messages (no labels, no client data). */
export async function publicTokenizer(seed = 1, vocabSize = 600): Promise<Tokenizer> {
  const gen = new CustomerServiceGenerator({ seed: seed + 1000 });
  return trainWordPiece({ iterator: [...gen.unlabeled(3000)], vocabSize, minFrequency: 2 });
}

/** The labeled train and test sets, tokenized. */
export async function intentData(tok: Tokenizer, o: IntentTaskOptions = {}): Promise<{ train: Example[]; test: Example[] }> {
  const gen = new CustomerServiceGenerator({ seed: o.seed ?? 1 });
  const train = gen.labeled({ perIntent: o.perIntent ?? 40, split: 'train' });
  const test = gen.labeled({ perIntent: o.testPerIntent ?? 20, split: 'train' });
  const enc = async (rows: { text: string; label: number }[]): Promise<Example[]> =>
    (await tok.encodeBatch(rows.map((r) => r.text), { truncation: true, maxLength: o.maxLength ?? 32 }))
      .map((e, i) => ({ inputIds: e.inputIds, label: rows[i].label }));
  return { train: await enc(train), test: await enc(test) };
}

/** A tiny BERT for the 12 intents (2 layers, hidden 64, no dropout: deterministic runs). */
export function tinyConfig(vocabSize: number, hidden = 64): Partial<BertConfig> {
  return {
    vocab_size: vocabSize, hidden_size: hidden, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 2 * hidden,
    max_position_embeddings: 64, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0, ...labelMaps(12),
  };
}

/** Client k's shard of `train` under a Dirichlet(alpha) label split over `clients` clients. */
export function clientShard(train: readonly Example[], k: number, clients: number, o: { alpha?: number; seed?: number } = {}): Example[] {
  const parts = partitionByLabel(train.map((e) => e.label!), clients, { alpha: o.alpha ?? 0.3, seed: o.seed ?? 3 });
  return parts[k].map((i) => train[i]);
}

/** "label:count" pairs of a shard, for logs. */
export function labelHistogram(examples: readonly Example[]): string {
  const counts = new Map<number, number>();
  for (const e of examples) counts.set(e.label!, (counts.get(e.label!) ?? 0) + 1);
  return [...counts].sort((a, b) => a[0] - b[0]).map(([l, c]) => `${l}:${c}`).join(' ');
}
