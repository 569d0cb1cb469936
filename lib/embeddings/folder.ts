/**
 * sentence-transformers folders on disk: which files say how a model folder
 * becomes sentence embeddings (modules.json -> Transformer, Pooling,
 * Normalize; 1_Pooling/config.json; sentence_bert_config.json's
 * max_seq_length), read as sentence-transformers reads them and written so
 * that `SentenceTransformer(dir)` loads the folder back. A plain BERT folder
 * (no modules.json) reads as mean pooling without normalisation. Pure
 * TypeScript over node:fs; no native code.
 */
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../models/atomic.js';

/** How token vectors become one vector (sentence-transformers' Pooling modes). */
export type Pooling = 'mean' | 'cls' | 'max';

/** What a folder says about its sentence embeddings. */
export interface SentenceFolder {
  /** The folder of the transformer (config.json, weights, tokenizer): the folder itself, or modules.json's Transformer path. */
  modelDir: string;
  pooling: Pooling;
  normalize: boolean;
  /** sentence_bert_config.json's max_seq_length, when present. */
  maxSeqLength?: number;
  /** Whether the folder had modules.json (a sentence-transformers folder). */
  sentenceTransformers: boolean;
}

const TRANSFORMER = 'sentence_transformers.models.Transformer';
const POOLING = 'sentence_transformers.models.Pooling';
const NORMALIZE = 'sentence_transformers.models.Normalize';

/** An error in a sentence-transformers file, naming it: code `ERR_SENTENCE_FOLDER`. */
export class SentenceFolderError extends Error {
  readonly code = 'ERR_SENTENCE_FOLDER';
  readonly file: string;
  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'SentenceFolderError';
    this.file = file;
  }
}

async function readJson(file: string): Promise<unknown | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new SentenceFolderError(file, `not valid JSON (${(e as Error).message})`);
  }
}

/** Reads 1_Pooling/config.json's flags as one supported mode. */
function poolingMode(file: string, c: Record<string, unknown>): Pooling {
  if (typeof c.pooling_mode === 'string') c = { ...c, [`pooling_mode_${c.pooling_mode === 'mean' ? 'mean_tokens' : c.pooling_mode === 'max' ? 'max_tokens' : c.pooling_mode === 'cls' ? 'cls_token' : c.pooling_mode}`]: true };
  const on = Object.keys(c).filter((k) => k.startsWith('pooling_mode_') && c[k] === true);
  const known: Record<string, Pooling> = { pooling_mode_mean_tokens: 'mean', pooling_mode_cls_token: 'cls', pooling_mode_max_tokens: 'max' };
  if (on.length !== 1 || !(on[0] in known)) {
    throw new SentenceFolderError(file, `pooling ${on.length ? on.join(' + ') : '(none set)'} is not supported (one of pooling_mode_mean_tokens, pooling_mode_cls_token, pooling_mode_max_tokens)`);
  }
  return known[on[0]];
}

/**
 * Reads how `dir` makes sentence embeddings.
 * @throws {SentenceFolderError} naming the file for unreadable JSON, a module type other than
 *   Transformer / Pooling / Normalize, or an unsupported pooling mode.
 * @example const { pooling, normalize, maxSeqLength } = await readSentenceFolder('models/all-MiniLM-L6-v2');
 */
export async function readSentenceFolder(dir: string): Promise<SentenceFolder> {
  const modulesFile = path.join(dir, 'modules.json');
  const modules = await readJson(modulesFile);
  if (modules === undefined) {
    return { modelDir: dir, pooling: 'mean', normalize: false, sentenceTransformers: false, ...(await maxSeqLengthOf(dir)) };
  }
  if (!Array.isArray(modules)) throw new SentenceFolderError(modulesFile, 'expected an array of modules');
  let modelDir: string | undefined;
  let pooling: Pooling = 'mean';
  let normalize = false;
  for (const [i, m] of modules.entries()) {
    const type = (m as { type?: unknown })?.type;
    const sub = (m as { path?: unknown })?.path;
    if (typeof type !== 'string' || typeof sub !== 'string') throw new SentenceFolderError(modulesFile, `module ${i} lacks a type or path`);
    const where = path.join(dir, sub);
    if (type === TRANSFORMER) modelDir = where;
    else if (type === POOLING) {
      const file = path.join(where, 'config.json');
      const c = await readJson(file);
      if (c === undefined || c === null || typeof c !== 'object') throw new SentenceFolderError(file, 'missing or not an object');
      pooling = poolingMode(file, c as Record<string, unknown>);
    } else if (type === NORMALIZE) normalize = true;
    else throw new SentenceFolderError(modulesFile, `module ${i} (${type}) is not supported: bertorch encodes Transformer -> Pooling -> Normalize`);
  }
  if (modelDir === undefined) throw new SentenceFolderError(modulesFile, `no ${TRANSFORMER} module`);
  return { modelDir, pooling, normalize, sentenceTransformers: true, ...(await maxSeqLengthOf(modelDir)) };
}

async function maxSeqLengthOf(dir: string): Promise<{ maxSeqLength?: number }> {
  const file = path.join(dir, 'sentence_bert_config.json');
  const c = (await readJson(file)) as { max_seq_length?: unknown } | undefined;
  if (c === undefined || c.max_seq_length === undefined || c.max_seq_length === null) return {};
  if (!Number.isInteger(c.max_seq_length) || (c.max_seq_length as number) < 2) throw new SentenceFolderError(file, `max_seq_length must be an integer >= 2, got ${JSON.stringify(c.max_seq_length)}`);
  return { maxSeqLength: c.max_seq_length as number };
}

/**
 * Writes modules.json, 1_Pooling/config.json, sentence_bert_config.json,
 * config_sentence_transformers.json (and 2_Normalize/ when normalising) into a
 * folder that already holds the model and tokenizer, so sentence-transformers
 * loads it as the same encoder.
 */
export async function writeSentenceFolder(dir: string, o: { pooling: Pooling; normalize: boolean; maxSeqLength: number; dim: number }): Promise<void> {
  const modules: object[] = [
    { idx: 0, name: '0', path: '', type: TRANSFORMER },
    { idx: 1, name: '1', path: '1_Pooling', type: POOLING },
  ];
  if (o.normalize) modules.push({ idx: 2, name: '2', path: '2_Normalize', type: NORMALIZE });
  const json = (x: unknown) => JSON.stringify(x, null, 2) + '\n';
  await mkdir(path.join(dir, '1_Pooling'), { recursive: true });
  if (o.normalize) await mkdir(path.join(dir, '2_Normalize'), { recursive: true });
  await writeFileAtomic(path.join(dir, 'modules.json'), json(modules));
  await writeFileAtomic(path.join(dir, '1_Pooling', 'config.json'), json({
    word_embedding_dimension: o.dim,
    pooling_mode_cls_token: o.pooling === 'cls',
    pooling_mode_mean_tokens: o.pooling === 'mean',
    pooling_mode_max_tokens: o.pooling === 'max',
    pooling_mode_mean_sqrt_len_tokens: false,
  }));
  await writeFileAtomic(path.join(dir, 'sentence_bert_config.json'), json({ max_seq_length: o.maxSeqLength, do_lower_case: false }));
  await writeFileAtomic(path.join(dir, 'config_sentence_transformers.json'), json({ __version__: { bertorch: '0' }, prompts: {}, default_prompt_name: null, similarity_fn_name: 'cosine' }));
}
