/**
 * BertConfig: HF config.json for BERT, read and validated, with bertorch's
 * presets. Plain data; no native code. Unknown keys are kept and written back
 * so a round trip through bertorch loses nothing transformers wrote.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from './atomic.js';
import { usableMemory } from '../memory.js';

export type HiddenAct = 'gelu' | 'gelu_new' | 'gelu_pytorch_tanh' | 'relu' | 'silu' | 'tanh';
export type ProblemType = 'single_label_classification' | 'multi_label_classification' | 'regression';
export type Architecture =
  | 'BertModel' | 'BertForMaskedLM' | 'BertForSequenceClassification' | 'BertForTokenClassification' | 'BertForPreTraining'
  | 'BertForReplacedTokenDetection';

export const ARCHITECTURES: readonly Architecture[] = [
  'BertModel', 'BertForMaskedLM', 'BertForSequenceClassification', 'BertForTokenClassification', 'BertForPreTraining',
  'BertForReplacedTokenDetection',
];

/** HF BertConfig keys (snake_case, as in config.json). */
export interface BertConfig {
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  max_position_embeddings: number;
  type_vocab_size: number;
  hidden_act: HiddenAct;
  hidden_dropout_prob: number;
  attention_probs_dropout_prob: number;
  classifier_dropout?: number | null;
  layer_norm_eps: number;
  initializer_range: number;
  pad_token_id: number;
  position_embedding_type?: 'absolute';
  model_type?: 'bert';
  architectures?: string[];
  id2label?: Record<string, string>;
  label2id?: Record<string, number>;
  problem_type?: ProblemType | null;
  torch_dtype?: string;
  /**
   * Replaced-token detection's generator (BertForReplacedTokenDetection): its
   * width, heads, feed-forward size and depth. Absent or 0: a quarter of the
   * discriminator's width, heads and feed-forward size, and all its layers.
   */
  generator_hidden_size?: number;
  generator_num_attention_heads?: number;
  generator_intermediate_size?: number;
  generator_num_hidden_layers?: number;
  [key: string]: unknown;
}

/** HF's BertConfig defaults (bert-base-uncased). */
export const DEFAULT_CONFIG: BertConfig = {
  vocab_size: 30522,
  hidden_size: 768,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  intermediate_size: 3072,
  max_position_embeddings: 512,
  type_vocab_size: 2,
  hidden_act: 'gelu',
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  classifier_dropout: null,
  layer_norm_eps: 1e-12,
  initializer_range: 0.02,
  pad_token_id: 0,
  position_embedding_type: 'absolute',
  model_type: 'bert',
};

/** Sizes from Turc et al. 2019 ("Well-Read Students Learn Better"), as the bert-* checkpoints. */
export const PRESETS = {
  tiny: { num_hidden_layers: 2, hidden_size: 128, num_attention_heads: 2, intermediate_size: 512 },
  mini: { num_hidden_layers: 4, hidden_size: 256, num_attention_heads: 4, intermediate_size: 1024 },
  small: { num_hidden_layers: 4, hidden_size: 512, num_attention_heads: 8, intermediate_size: 2048 },
  medium: { num_hidden_layers: 8, hidden_size: 512, num_attention_heads: 8, intermediate_size: 2048 },
  base: { num_hidden_layers: 12, hidden_size: 768, num_attention_heads: 12, intermediate_size: 3072 },
} as const;

const ACTS = new Set(['gelu', 'gelu_new', 'gelu_pytorch_tanh', 'relu', 'silu', 'tanh']);

function fail(where: string, what: string, key: string, value: unknown): never {
  throw Object.assign(new RangeError(`${where}: Expected ${what} for ${key} but received ${JSON.stringify(value)}`), {
    code: 'ERR_INVALID_CONFIG',
  });
}

/**
 * Fills defaults and checks every field a BERT needs.
 * @throws RangeError (code ERR_INVALID_CONFIG) naming the file and key.
 */
export function makeConfig(partial: Partial<BertConfig> = {}, where = 'config'): BertConfig {
  if (partial === null || typeof partial !== 'object' || Array.isArray(partial)) fail(where, 'an object', 'config', partial);
  const c = { ...DEFAULT_CONFIG, ...partial } as BertConfig;
  const posInt = ['vocab_size', 'hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size',
    'max_position_embeddings', 'type_vocab_size'] as const;
  for (const k of posInt) if (!Number.isInteger(c[k]) || (c[k] as number) < 1) fail(where, 'a positive integer', k, c[k]);
  if (c.hidden_size % c.num_attention_heads !== 0)
    fail(where, `a multiple of num_attention_heads (${c.num_attention_heads})`, 'hidden_size', c.hidden_size);
  for (const k of ['hidden_dropout_prob', 'attention_probs_dropout_prob'] as const)
    if (typeof c[k] !== 'number' || c[k] < 0 || c[k] > 1) fail(where, 'a probability in [0, 1]', k, c[k]);
  if (c.classifier_dropout != null && (typeof c.classifier_dropout !== 'number' || c.classifier_dropout < 0 || c.classifier_dropout > 1))
    fail(where, 'null or a probability in [0, 1]', 'classifier_dropout', c.classifier_dropout);
  if (typeof c.layer_norm_eps !== 'number' || !(c.layer_norm_eps > 0)) fail(where, 'a positive number', 'layer_norm_eps', c.layer_norm_eps);
  if (typeof c.initializer_range !== 'number' || !(c.initializer_range >= 0)) fail(where, 'a non-negative number', 'initializer_range', c.initializer_range);
  if (!Number.isInteger(c.pad_token_id) || c.pad_token_id < 0 || c.pad_token_id >= c.vocab_size)
    fail(where, `an integer in [0, ${c.vocab_size})`, 'pad_token_id', c.pad_token_id);
  if (!ACTS.has(c.hidden_act)) fail(where, `one of ${[...ACTS].join(', ')}`, 'hidden_act', c.hidden_act);
  if (c.position_embedding_type && c.position_embedding_type !== 'absolute')
    fail(where, "'absolute' (the only position embedding bertorch implements)", 'position_embedding_type', c.position_embedding_type);
  checkGenerator(c, where);
  checkFitsInMemory(c, where);
  if (c.problem_type != null && !['single_label_classification', 'multi_label_classification', 'regression'].includes(c.problem_type))
    fail(where, 'single_label_classification, multi_label_classification or regression', 'problem_type', c.problem_type);
  return c;
}

const GENERATOR_KEYS = ['generator_hidden_size', 'generator_num_attention_heads', 'generator_intermediate_size', 'generator_num_hidden_layers'] as const;

/** The generator's sizes as native/electra.cc derives them (0 or absent: from the discriminator's; heads rounded down until they divide the width). */
export function generatorSizes(c: BertConfig): { hidden: number; heads: number; intermediate: number; layers: number } {
  // Public (models/index.ts): a size that is not a positive integer would
  // make the divisor search below run forever (NaN % n is never 0).
  if (c === null || typeof c !== 'object') throw new TypeError(`generatorSizes: Expected a BERT config object but received ${c === null ? 'null' : typeof c}`);
  for (const k of ['hidden_size', 'intermediate_size', 'num_attention_heads', 'num_hidden_layers'] as const)
    if (!Number.isInteger(c[k]) || c[k] < 1) fail('generatorSizes', 'a positive integer', k, c[k]);
  for (const k of GENERATOR_KEYS)
    if (c[k] !== undefined && (!Number.isInteger(c[k]) || (c[k] as number) < 0)) fail('generatorSizes', 'a non-negative integer (0: derived)', k, c[k]);
  const or = (v: number | undefined, d: number) => (v ? v : d);
  const sizes = {
    hidden: or(c.generator_hidden_size, Math.max(1, Math.floor(c.hidden_size / 4))),
    heads: or(c.generator_num_attention_heads, 0),
    intermediate: or(c.generator_intermediate_size, Math.max(1, Math.floor(c.intermediate_size / 4))),
    layers: or(c.generator_num_hidden_layers, c.num_hidden_layers),
  };
  if (!sizes.heads) {  // a quarter of the heads, fewer until they divide the width
    sizes.heads = Math.max(1, Math.min(sizes.hidden, Math.floor(c.num_attention_heads / 4)));
    while (sizes.hidden % sizes.heads !== 0) sizes.heads--;
  }
  return sizes;
}

function checkGenerator(c: BertConfig, where: string): void {
  for (const k of GENERATOR_KEYS)
    if (c[k] !== undefined && (!Number.isInteger(c[k]) || (c[k] as number) < 0)) fail(where, 'a non-negative integer (0: derived)', k, c[k]);
  const g = generatorSizes(c);
  if (g.hidden % g.heads !== 0) fail(where, `a multiple of the generator's attention heads (${g.heads})`, 'generator_hidden_size', g.hidden);
}

/** About how many parameters a model of this config has (all heads included, an upper bound). */
export function parameterCount(c: BertConfig): number {
  const H = c.hidden_size, I = c.intermediate_size;
  const embeddings = (c.vocab_size + c.max_position_embeddings + c.type_vocab_size) * H;
  const layer = 4 * H * H + 2 * H * I;
  const heads = 2 * H * H + H * (numLabelsOf(c) + 2) + c.vocab_size;
  return embeddings + c.num_hidden_layers * layer + heads;
}

// The parameters are first made on the CPU in float32 (then moved): a config
// they cannot fit in would otherwise run until the OOM killer ends the process
// (num_hidden_layers: 1e9 builds layer after layer).
function checkFitsInMemory(c: BertConfig, where: string): void {
  const bytes = 4 * parameterCount(c);
  const usable = usableMemory();
  if (bytes <= usable) return;
  const gb = (n: number) => `${(n / 1e9).toPrecision(3)} GB`;
  throw Object.assign(new RangeError(`${where}: Expected sizes whose float32 parameters fit in the ${gb(usable)} of memory this process may use ` +
    `for config but received vocab_size=${c.vocab_size}, hidden_size=${c.hidden_size}, num_hidden_layers=${c.num_hidden_layers}, ` +
    `intermediate_size=${c.intermediate_size} (${gb(bytes)})`), { code: 'ERR_INVALID_CONFIG' });
}

/** The number of labels a config describes (HF: len(id2label), default 2). */
export function numLabelsOf(c: BertConfig): number {
  return c.id2label ? Object.keys(c.id2label).length : 2;
}

/** id2label / label2id for n labels or for names, as HF writes them. */
export function labelMaps(labels: number | readonly string[]): Pick<BertConfig, 'id2label' | 'label2id'> {
  const names = typeof labels === 'number' ? Array.from({ length: labels }, (_, i) => `LABEL_${i}`) : [...labels];
  const id2label: Record<string, string> = {};
  const label2id: Record<string, number> = {};
  names.forEach((n, i) => { id2label[String(i)] = n; label2id[n] = i; });
  return { id2label, label2id };
}

/** Reads and validates `dir/config.json`. */
export async function readConfig(dir: string): Promise<BertConfig> {
  const file = path.join(dir, 'config.json');
  let raw: unknown;
  try {
    // Decoded strictly: readFile(file, 'utf8') turns bad bytes into U+FFFD, a silently changed label name.
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(await readFile(file)));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw Object.assign(new Error(err.code === 'ENOENT' ? `${file}: no config.json in this model folder` : `${file}: not valid JSON (${err.message})`),
      { code: err.code === 'ENOENT' ? 'ERR_NO_CONFIG' : 'ERR_INVALID_CONFIG' });
  }
  const obj = raw as Partial<BertConfig>;
  if (obj && typeof obj === 'object' && obj.model_type && obj.model_type !== 'bert')
    fail(file, "'bert'", 'model_type', obj.model_type);
  return makeConfig(obj, file);
}

/** Writes config.json atomically, keys in a stable order. */
export async function writeConfig(dir: string, c: BertConfig): Promise<void> {
  const sorted = Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined).sort(([a], [b]) => a.localeCompare(b)));
  await writeFileAtomic(path.join(dir, 'config.json'), JSON.stringify(sorted, null, 2) + '\n');
}
