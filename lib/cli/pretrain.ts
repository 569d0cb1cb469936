import path from 'node:path';
import { DataLoader, mlmCollator, MlmDataset, prepareCorpus, ShardReader, writeShards } from '../data/index.js';
import { BertForMaskedLM, PRESETS } from '../models/index.js';
import { loadStateDictFiles, readSafetensors, writeSafetensors } from '../models/safetensors.js';
import { Tokenizer, trainWordPiece } from '../tokenizer.js';
import { listCheckpoints } from '../train/index.js';
import { mustExist, say, toDevice, type Command, type Io } from './command.js';
import { b, BAD_ROWS, COMMON, i, n, s, TRAINING, UsageError, type Values } from './options.js';
import { finish, fit, makeTrainer, trainerOptions } from './training.js';
import { parseDuration } from '../train/schedule.js';
import { readFile, writeFile } from 'node:fs/promises';

export const pretrainCommand: Command = {
  summary: 'Masked-language-model pretraining on raw text: corpus cleaning and split, WordPiece training, token shards, Trainer.',
  usage: 'bertorch pretrain --corpus <file|dir|glob>... --out <dir> [options]',
  options: {
    corpus: { kind: 'list', help: 'raw text inputs: .txt (a line each), .jsonl, .csv, .tsv (+ .gz), folders, globs', required: true },
    out: s('output folder: the HF model + tokenizer, and corpus/, shards/, checkpoints/', { required: true }),
    model: s('continue pretraining this HF folder (and its tokenizer) instead of a new model'),
    tokenizer: s('use this tokenizer folder instead of training one'),
    'vocab-size': i('WordPiece vocabulary size', 8000),
    'min-frequency': i('least frequency of a merged pair', 2),
    preset: s('model size (Turc et al. 2019)', { default: 'mini', choices: Object.keys(PRESETS) }),
    'max-position-embeddings': i('longest input the model will take', 512),
    'mlm-probability': n('share of tokens masked (0.4 pays on a budget: Wettig et al. 2022)', 0.15),
    'whole-word-mask': b('mask whole words'),
    'max-time': s("time budget, e.g. 90s, 30m, 1h30m: the LR schedule ends when it runs out, then the model is saved (data is cycled; --epochs ignored)"),
    schedule: s('learning-rate schedule (one_cycle: up to the peak at --warmup-ratio, 0.5 when 0, then down to 0)', {
      default: 'linear', choices: ['linear', 'cosine', 'one_cycle', 'constant', 'constant_with_warmup'],
    }),
    'gradient-accumulation-steps': i('batches summed into one optimizer step (effective batch = batch-size x this)', 1),
    dropout: { kind: 'boolean', help: "--no-dropout: dropout off while pretraining (Cramming); the saved config keeps the model's dropout for fine-tuning", default: true },
    validation: n('share of the corpus held out to evaluate', 0.01),
    field: s('JSONL field of the text', { default: 'text' }),
    column: s('CSV/TSV column of the text', { default: 'text' }),
    ...BAD_ROWS,
    ...TRAINING,
    epochs: i('passes over the corpus', 1),
    'batch-size': i('blocks per step', 32),
    lr: n('peak learning rate', 5e-4),
    'warmup-ratio': n('share of steps with a linear warmup', 0.06),
    ...COMMON,
  },
  run: pretrain,
};

async function pretrain(v: Values, io: Io): Promise<number> {
  const out: string = v.out;
  let maxTime: number | undefined;
  try {
    maxTime = v.maxTime === undefined ? undefined : parseDuration(v.maxTime, '--max-time');
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  for (const [flag, dir] of [['--model', v.model], ['--tokenizer', v.tokenizer]]) await mustExist(dir, flag);
  const corpusDir = path.join(out, 'corpus');
  const corpus = await prepareCorpus({ inputs: v.corpus, outDir: corpusDir, field: v.field, column: v.column, split: { validation: v.validation, test: 0 }, seed: String(v.seed), onBadRow: v.onBadRow });
  if (corpus.dropped.badRows > 0) {
    say(io, v, `skipped ${corpus.dropped.badRows} bad rows (all listed up to 1,000 in ${path.join(corpusDir, 'summary.json')}):`);
    for (const row of corpus.skippedRows.slice(0, 20)) say(io, v, `  ${row.file}:${row.line}: ${row.message} (${row.reason})`);
  }
  say(io, v, `corpus: ${corpus.splits.train.examples} training and ${corpus.splits.validation.examples} validation texts (${corpus.dropped.duplicates} duplicates dropped)`);
  if (corpus.splits.train.examples === 0) throw new Error(`no text to pretrain on in ${v.corpus.join(', ')}`);
  // Resuming continues with the tokenizer the checkpoint was trained with.
  const newest = v.resume ? (await listCheckpoints(path.join(out, 'checkpoints'))).at(-1)?.dir : undefined;
  const tokenizerFrom = v.tokenizer ?? v.model ?? newest;
  const tokenizer = tokenizerFrom
    ? await Tokenizer.fromPretrained(tokenizerFrom)
    : await trainWordPiece({ files: [corpus.splits.train.path], vocabSize: v.vocabSize, minFrequency: v.minFrequency });
  say(io, v, `tokenizer: ${tokenizer.vocabSize} WordPiece tokens${tokenizerFrom ? ` from ${tokenizerFrom}` : ''}`);
  const shards = async (split: 'train' | 'validation') => {
    const dir = path.join(out, 'shards', split);
    if (v.resume) {
      const old = await ShardReader.open(dir, { tokenizer }).catch(() => undefined);
      if (old) return old;
    }
    await writeShards({ files: [corpus.splits[split].path], tokenizer, outDir: dir, progress: false });
    return ShardReader.open(dir, { tokenizer });
  };
  const trainReader = await shards('train');
  const valReader = corpus.splits.validation.examples > 0 ? await shards('validation') : undefined;
  try {
    const blockSize: number = v.maxLength;
    const masking = { blockSize, tokenizer, seed: v.seed, probability: v.mlmProbability, wholeWord: v.wholeWordMask };
    const trainSet = new MlmDataset(trainReader, masking);
    if (trainSet.length === 0) throw new Error(`the corpus holds ${trainReader.meta.numTokens} tokens: fewer than one block of --max-length ${blockSize}`);
    const collate = mlmCollator({ padId: tokenizer.specialTokenIds.pad });
    const train = new DataLoader(trainSet, { batchSize: v.batchSize, shuffle: true, seed: v.seed, collate });
    const valSet = valReader ? new MlmDataset(valReader, masking) : undefined;
    const val = valSet && valSet.length > 0 ? new DataLoader(valSet, { batchSize: v.evalBatchSize, collate }) : undefined;
    const noDropout = !v.dropout ? { hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 } : {};
    const model = v.model
      ? await BertForMaskedLM.fromPretrained(v.model, { config: noDropout })
      : BertForMaskedLM.create({
        ...PRESETS[v.preset as keyof typeof PRESETS], vocab_size: tokenizer.vocabSize, pad_token_id: tokenizer.specialTokenIds.pad,
        max_position_embeddings: Math.max(v.maxPositionEmbeddings, blockSize), ...noDropout,
      }, { seed: v.seed });
    // The dropout the folder will be fine-tuned with: the checkpoint's, or BERT's 0.1 for a new model.
    const dropout = v.model ? await readDropout(v.model) : { hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1 };
    try {
      if (model.config.vocab_size < tokenizer.vocabSize) throw new UsageError(`the model's vocabulary (${model.config.vocab_size}) is smaller than the tokenizer's (${tokenizer.vocabSize})`);
      if (v.model) {
        // DAPT/TAPT (Gururangan et al. 2020): a sentence-transformers folder holds a bare BertModel.
        const added = (model.loadReport?.missing ?? []).filter((k) => k.startsWith('cls.'));
        say(io, v, `continuing pretraining of ${v.model} (${model.config.num_hidden_layers} layers, hidden ${model.config.hidden_size}) with its tokenizer` +
          (added.length ? `; it had no MLM head, so a new one (${added.length} tensors, decoder tied to the word embeddings) is trained from scratch` : ''));
      }
      toDevice(model, v.device);
      const accum: number = v.gradientAccumulationSteps;
      say(io, v, `MLM pretraining: ${(model.numParameters / 1e6).toFixed(2)}M parameters, ${trainSet.length} blocks of ${blockSize} tokens, ` +
        `batch ${v.batchSize}${accum > 1 ? ` x ${accum} accumulated` : ''}, ${v.mlmProbability * 100}% masked${v.wholeWordMask ? ' (whole words)' : ''}` +
        `${!v.dropout ? ', dropout off' : ''}${maxTime ? `, time budget ${maxTime} s` : ''}`);
      const trainer = makeTrainer(model, {
        ...trainerOptions(v, out, tokenizer, val !== undefined),
        maxTime, schedule: v.schedule, gradientAccumulationSteps: accum,
        // A budgeted run always leaves a checkpoint beside the saved model.
        ...(maxTime ? { saveAtEnd: true } : {}),
      });
      const r = await fit(trainer, train, val, v.resume);
      const code = await finish(io, v, 'pretrain', model, tokenizer, r);
      if (!v.dropout && r.stopReason !== 'aborted') await patchConfig(path.join(out, 'config.json'), dropout);
      if (v.model && r.stopReason !== 'aborted') {
        const kept = await keepPooler(v.model, path.join(out, 'model.safetensors'));
        if (kept) say(io, v, `kept ${v.model}'s pooler (not trained by MLM) in the saved folder, for fine-tuning`);
      }
      return code;
    } finally {
      model.dispose();
    }
  } finally {
    trainReader.close();
    valReader?.close();
  }
}

/** The dropout rates of a model folder's config.json (BERT's 0.1 where absent). */
async function readDropout(dir: string): Promise<{ hidden_dropout_prob: number; attention_probs_dropout_prob: number }> {
  const c = JSON.parse(await readFile(path.join(dir, 'config.json'), 'utf8'));
  return { hidden_dropout_prob: c.hidden_dropout_prob ?? 0.1, attention_probs_dropout_prob: c.attention_probs_dropout_prob ?? 0.1 };
}

/** Rewrites keys of a saved config.json (the dropout turned off only for pretraining). */
async function patchConfig(file: string, keys: Record<string, number>): Promise<void> {
  const c = JSON.parse(await readFile(file, 'utf8'));
  await writeFile(file, JSON.stringify({ ...c, ...keys }, null, 2) + '\n');
}

/**
 * An MLM model has no pooler, so continued pretraining would drop the
 * checkpoint's trained one and fine-tuning would start it from random: copy
 * it into the saved weights (transformers' BertForMaskedLM ignores it,
 * BertForSequenceClassification uses it). Returns the tensors copied.
 */
async function keepPooler(from: string, file: string): Promise<number> {
  const { tensors: src } = await loadStateDictFiles(from, { names: (n) => /(^|\.)pooler\.dense\.(weight|bias)$/.test(n) });
  if (src.size === 0) return 0;
  const { tensors, metadata } = await readSafetensors(file);
  for (const [k, rec] of src) tensors.set(`bert.pooler.dense.${k.split('.').pop()}`, rec);
  await writeSafetensors(file, tensors, { format: 'pt', ...metadata });
  return src.size;
}
