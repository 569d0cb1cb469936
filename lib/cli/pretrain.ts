import path from 'node:path';
import { DataLoader, mlmCollator, MlmDataset, prepareCorpus, ShardReader, writeShards } from '../data/index.js';
import { BertForMaskedLM, BertForReplacedTokenDetection, PRESETS, type BertConfig } from '../models/index.js';
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
    'freeze-encoder': b("with --model: train only the MLM/RTD head, the folder's embeddings and encoder fixed"),
    'head-warmup': n('with --model of a folder that has no MLM/RTD head (sentence-transformers): the share of --max-time or of the steps that trains the new head alone, the encoder frozen, at --head-lr, before everything trains at --lr (0: off)', 0.2),
    'head-lr': n('learning rate of the head warm-up', 1e-3),
    tokenizer: s('use this tokenizer folder instead of training one'),
    'vocab-size': i('WordPiece vocabulary size', 8000),
    'min-frequency': i('least frequency of a merged pair', 2),
    preset: s('model size (Turc et al. 2019)', { default: 'mini', choices: Object.keys(PRESETS) }),
    'max-position-embeddings': i('longest input the model will take', 512),
    'mlm-probability': n('share of tokens masked (0.4 pays on a budget: Wettig et al. 2022)', 0.15),
    'whole-word-mask': b('mask whole words'),
    'span-mask': b('mask spans of whole words, lengths from Geo(0.2) clipped at 10 words (SpanBERT)'),
    objective: s('mlm: masked-language modelling; rtd: replaced-token detection (ELECTRA): a small generator fills the masked tokens, the model learns to tell every token original or replaced', {
      default: 'mlm', choices: ['mlm', 'rtd'],
    }),
    'generator-size': n("rtd: the generator's width, heads and feed-forward size as a share of the model's (ELECTRA: 1/4 to 1/2; default 0.25)"),
    'generator-layers': i("rtd: the generator's layers (default: the model's)"),
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
  if (v.objective !== 'rtd') {
    for (const [flag, value] of [['--generator-size', v.generatorSize], ['--generator-layers', v.generatorLayers]])
      if (value !== undefined) throw new UsageError(`${flag} applies to --objective rtd only (the objective is ${v.objective})`);
  } else {
    generatorConfig({}, v.generatorSize, v.generatorLayers);  // bad sizes fail before the corpus is read
  }
  if (v.freezeEncoder && !v.model) throw new UsageError('--freeze-encoder needs --model: a new model\'s encoder is random, and would stay so');
  if (!(v.headWarmup >= 0 && v.headWarmup < 1)) throw new UsageError(`Expected a share in [0, 1) for --head-warmup but received ${v.headWarmup}`);
  if (!(v.headLr > 0)) throw new UsageError(`Expected a positive number for --head-lr but received ${v.headLr}`);
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
    const masking = { blockSize, tokenizer, seed: v.seed, probability: v.mlmProbability, wholeWord: v.wholeWordMask, span: v.spanMask };
    const trainSet = new MlmDataset(trainReader, masking);
    if (trainSet.length === 0) throw new Error(`the corpus holds ${trainReader.meta.numTokens} tokens: fewer than one block of --max-length ${blockSize}`);
    const collate = mlmCollator({ padId: tokenizer.specialTokenIds.pad });
    const train = new DataLoader(trainSet, { batchSize: v.batchSize, shuffle: true, seed: v.seed, collate });
    const valSet = valReader ? new MlmDataset(valReader, masking) : undefined;
    const val = valSet && valSet.length > 0 ? new DataLoader(valSet, { batchSize: v.evalBatchSize, collate }) : undefined;
    const noDropout = !v.dropout ? { hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 } : {};
    const rtd = v.objective === 'rtd';
    const Model = rtd ? BertForReplacedTokenDetection : BertForMaskedLM;
    const fresh: Partial<BertConfig> = {
      ...PRESETS[v.preset as keyof typeof PRESETS], vocab_size: tokenizer.vocabSize, pad_token_id: tokenizer.specialTokenIds.pad,
      max_position_embeddings: Math.max(v.maxPositionEmbeddings, blockSize),
    };
    const from = v.model ? await readJson(path.join(v.model, 'config.json')) : fresh;
    // A folder saved by an RTD run keeps its generator (generator/ beside it): continue with that one.
    const generator = rtd && !from.generator_hidden_size ? generatorConfig(from, v.generatorSize, v.generatorLayers) : {};
    const model = v.model
      ? await Model.fromPretrained(v.model, { config: { ...noDropout, ...generator } })
      : Model.create({ ...fresh, ...noDropout, ...generator }, { seed: v.seed });
    // The dropout the folder will be fine-tuned with: the checkpoint's, or BERT's 0.1 for a new model.
    const dropout = v.model ? await readDropout(v.model) : { hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1 };
    let added: string[] = [];
    try {
      if (model.config.vocab_size < tokenizer.vocabSize) throw new UsageError(`the model's vocabulary (${model.config.vocab_size}) is smaller than the tokenizer's (${tokenizer.vocabSize})`);
      if (v.model) {
        // DAPT/TAPT (Gururangan et al. 2020): a sentence-transformers folder holds a bare BertModel.
        added = (model.loadReport?.missing ?? []).filter((k) => /^(cls|generator|discriminator_predictions)\./.test(k));
        const head = rtd ? 'generator and discriminator head' : 'MLM head';
        say(io, v, `continuing pretraining of ${v.model} (${model.config.num_hidden_layers} layers, hidden ${model.config.hidden_size}) with its tokenizer` +
          (added.length ? `; it had no ${head}, so a new one (${added.length} tensors${rtd ? '' : ', decoder tied to the word embeddings'}) is trained from scratch` : ''));
      }
      if (v.freezeEncoder) {
        freezeEncoder(model);
        say(io, v, `--freeze-encoder: training the head only (${model.trainableNames().length} tensors); the embeddings and encoder stay as in ${v.model}`);
      }
      toDevice(model, v.device);
      const accum: number = v.gradientAccumulationSteps;
      const g = model.config;
      const what = rtd
        ? `replaced-token detection (generator: ${g.generator_num_hidden_layers} layers, hidden ${g.generator_hidden_size}; loss = generator MLM + 50 x discriminator BCE)`
        : 'MLM pretraining';
      say(io, v, `${what}: ${(model.numParameters / 1e6).toFixed(2)}M parameters, ${trainSet.length} blocks of ${blockSize} tokens, ` +
        `batch ${v.batchSize}${accum > 1 ? ` x ${accum} accumulated` : ''}, ${v.mlmProbability * 100}% masked${v.spanMask ? ' (spans of whole words)' : v.wholeWordMask ? ' (whole words)' : ''}` +
        `${!v.dropout ? ', dropout off' : ''}${maxTime ? `, time budget ${maxTime} s` : ''}`);
      let budget = { maxTime, maxSteps: v.maxSteps as number | undefined };
      let warmed: Record<string, number> = {};
      // A new head's first gradients at the adaptation rate would reach the encoder as noise: train it alone
      // first. The rest of the budget is fixed by the flags, so a resumed run (its head in the checkpoint,
      // no warm-up again) continues on the same schedule.
      if (added.length && !v.freezeEncoder && v.headWarmup > 0) {
        const total = maxTime ? undefined : v.maxSteps ?? v.epochs * Math.ceil(train.length / accum);  // the Trainer's steps per epoch
        const share = maxTime ? { maxTime: maxTime * v.headWarmup } : { maxSteps: Math.max(1, Math.round(total! * v.headWarmup)) };
        budget = maxTime ? { maxTime: maxTime - share.maxTime!, maxSteps: v.maxSteps } : { maxTime, maxSteps: Math.max(1, total! - share.maxSteps!) };
        if (!newest) {
          const what = share.maxTime ? `${share.maxTime.toFixed(0)} s` : `${share.maxSteps} step${share.maxSteps === 1 ? '' : 's'}`;
          say(io, v, `head warm-up (--head-warmup ${v.headWarmup}): the new head trains alone for ${what} at ${v.headLr}, the encoder frozen`);
          freezeEncoder(model);
          const warm = makeTrainer(model, {
            ...trainerOptions(v, path.join(out, 'head-warmup'), tokenizer, false), ...share, epochs: 1, lr: v.headLr,
            schedule: 'constant_with_warmup', gradientAccumulationSteps: accum, runName: 'head-warmup',
          });
          const w = await fit(warm, train, undefined, false);
          if (w.stopReason === 'aborted') {
            say(io, v, 'interrupted during the head warm-up: nothing saved; the same command starts again');
            return 130;
          }
          model.setTrainable(true);
          warmed = { headWarmupSteps: w.globalStep, headWarmupLoss: w.trainLoss, headWarmupRuntime: Math.round(w.runtime * 1e3) / 1e3 };
          say(io, v, `head warm-up: ${w.globalStep} step${w.globalStep === 1 ? '' : 's'}, loss ${w.trainLoss.toFixed(3)}; now the whole model trains at ${v.lr}`);
        }
      }
      const trainer = makeTrainer(model, {
        ...trainerOptions(v, out, tokenizer, val !== undefined),
        ...budget, schedule: v.schedule, gradientAccumulationSteps: accum,
        // A budgeted run always leaves a checkpoint beside the saved model.
        ...(maxTime ? { saveAtEnd: true } : {}),
      });
      const r = await fit(trainer, train, val, v.resume);
      const code = await finish(io, v, 'pretrain', model, tokenizer, r, warmed);
      if (!v.dropout && r.stopReason !== 'aborted') await patchConfig(path.join(out, 'config.json'), dropout);
      if (v.model && r.stopReason !== 'aborted') {
        const kept = await keepPooler(v.model, path.join(out, 'model.safetensors'), rtd ? '' : 'bert.');
        if (kept) say(io, v, `kept ${v.model}'s pooler (which MLM and RTD do not train) in the saved folder, for fine-tuning`);
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

/** Freezes the embeddings and encoder: bert.* in an MLM model, the bare BertModel names in an RTD one (its generator trains). */
function freezeEncoder(model: { setTrainable(on: boolean, match: (n: string) => boolean): string[] }): void {
  model.setTrainable(false, (n) => /^(bert\.)?(embeddings|encoder|pooler)\./.test(n));
}

async function readJson(file: string): Promise<Partial<BertConfig>> {
  return JSON.parse(await readFile(file, 'utf8'));
}

/**
 * The generator's config keys for a share of the model's sizes (ELECTRA's
 * generators are 1/4 to 1/2 of the discriminator's width). Heads are rounded
 * down until they divide the width.
 */
export function generatorConfig(c: Partial<BertConfig>, share = 0.25, layers?: number): Partial<BertConfig> {
  if (!(share > 0 && share <= 1)) throw new UsageError(`Expected a number in (0, 1] for --generator-size but received ${share}`);
  if (layers !== undefined && !(Number.isInteger(layers) && layers >= 1)) throw new UsageError(`Expected a positive integer for --generator-layers but received ${layers}`);
  const C = c.hidden_size ?? 768, H = c.num_attention_heads ?? 12, I = c.intermediate_size ?? 3072;
  const hidden = Math.max(1, Math.round(C * share));
  let heads = Math.max(1, Math.min(hidden, Math.round(H * share)));
  while (hidden % heads !== 0) heads--;
  return {
    generator_hidden_size: hidden, generator_num_attention_heads: heads,
    generator_intermediate_size: Math.max(1, Math.round(I * share)), generator_num_hidden_layers: layers ?? c.num_hidden_layers ?? 12,
  };
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
 * An MLM or RTD model has no pooler, so continued pretraining would drop the
 * checkpoint's trained one and fine-tuning would start it from random: copy
 * it into the saved weights (transformers' BertForMaskedLM ignores it,
 * BertForSequenceClassification uses it). Returns the tensors copied.
 */
async function keepPooler(from: string, file: string, prefix: string): Promise<number> {
  const { tensors: src } = await loadStateDictFiles(from, { names: (n) => /(^|\.)pooler\.dense\.(weight|bias)$/.test(n) });
  if (src.size === 0) return 0;
  const { tensors, metadata } = await readSafetensors(file);
  for (const [k, rec] of src) tensors.set(`${prefix}pooler.dense.${k.split('.').pop()}`, rec);
  await writeSafetensors(file, tensors, { format: 'pt', ...metadata });
  return src.size;
}
