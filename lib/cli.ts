/**
 * The `bertorch` command: pretrain | finetune | evaluate | predict, each the
 * library's pipeline with its defaults (HF's run_mlm / run_glue / run_ner).
 * Options come from flags and an optional --config file (JSON or YAML; flags
 * win). Exit codes: 0 done, 1 runtime error, 2 usage error (with a message
 * naming the option and a pointer to --help), 130 stopped by Ctrl-C (after a
 * checkpoint). Results go to stdout; progress and logs to stderr.
 * Everything heavy runs through lib/: tokenizing on the libuv pool, steps and
 * forward passes on libtorch worker threads.
 */
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { parse as parseCsv } from 'csv-parse/sync';
import YAML from 'yaml';
import {
  ClassificationDataset, classificationCollator, DataLoader, mlmCollator, MlmDataset, prepareCorpus, ShardReader,
  TokenClassificationDataset, tokenClassificationCollator, writeShards, type ClassificationDataset as ClsDs,
} from './data/index.js';
import { classificationReport, formatClassificationReport, multilabelReport, nerReport, reportToDict, type ClassificationReport } from './metrics/index.js';
import {
  BertForMaskedLM, BertForSequenceClassification, BertForTokenClassification, PRESETS, PreTrainedBert, numLabelsOf, type BertConfig,
} from './models/index.js';
import type { Device } from './tensor.js';
import { Tokenizer, trainWordPiece } from './tokenizer.js';
import { argmaxRows, listCheckpoints, Trainer, type BatchSource, type FitResult, type EvalPrediction, type PredictionBatch, type TrainerOptions } from './train/index.js';
import { createPredictor } from './serve/index.js';
import { labelNames } from './serve/postprocess.js';

// ---- options as data ----

type Kind = 'string' | 'int' | 'number' | 'boolean' | 'list';
interface Opt { kind: Kind; help: string; default?: unknown; choices?: readonly string[]; required?: boolean }
type Opts = Record<string, Opt>;
type Values = Record<string, any>;

/** A usage error: exit code 2. */
export class UsageError extends Error {}

const s = (help: string, extra: Partial<Opt> = {}): Opt => ({ kind: 'string', help, ...extra });
const i = (help: string, def?: number): Opt => ({ kind: 'int', help, default: def });
const n = (help: string, def?: number): Opt => ({ kind: 'number', help, default: def });
const b = (help: string): Opt => ({ kind: 'boolean', help, default: false });

const COMMON: Opts = {
  config: s('JSON or YAML file of options (keys as the flags, kebab- or camelCase); flags win'),
  seed: i('random seed', 42),
  device: s('cpu, cuda or cuda:N', { default: 'cpu' }),
  quiet: b('no progress output'),
};
const TRAINING: Opts = {
  epochs: i('passes over the training data', 3),
  'max-steps': i('optimizer steps (overrides --epochs)'),
  'batch-size': i('examples per step', 16),
  'eval-batch-size': i('examples per evaluation batch', 64),
  lr: n('peak learning rate', 5e-5),
  'warmup-ratio': n('share of steps with a linear warmup', 0.1),
  'weight-decay': n('AdamW weight decay', 0.01),
  'max-length': i('tokens per example, special tokens included', 128),
  'logging-steps': i('log every N steps', 50),
  'eval-steps': i('evaluate every N steps (default: each epoch)'),
  'save-steps': i('checkpoint every N steps into <out>/checkpoints'),
  resume: b('continue from the newest checkpoint in <out>/checkpoints'),
  'run-name': s('write <out>/runs/<name>/metrics.jsonl and report.html'),
};
const CLS_DATA: Opts = {
  'text-column': s('CSV/TSV column or JSONL field of the text', { default: 'text' }),
  'text-pair-column': s('column of a second text (sentence pairs)'),
  'label-column': s('column of the label', { default: 'label' }),
};

interface Command { summary: string; usage: string; options: Opts; run(v: Values, io: Io): Promise<number> }

const COMMANDS: Record<string, Command> = {
  pretrain: {
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
      'mlm-probability': n('share of tokens masked', 0.15),
      'whole-word-mask': b('mask whole words'),
      validation: n('share of the corpus held out to evaluate', 0.01),
      field: s('JSONL field of the text', { default: 'text' }),
      column: s('CSV/TSV column of the text', { default: 'text' }),
      ...TRAINING,
      epochs: i('passes over the corpus', 1),
      'batch-size': i('blocks per step', 32),
      lr: n('peak learning rate', 5e-4),
      'warmup-ratio': n('share of steps with a linear warmup', 0.06),
      ...COMMON,
    },
    run: pretrain,
  },
  finetune: {
    summary: 'Fine-tunes a model for sequence classification (CSV/TSV/JSONL) or token classification (CoNLL, --task ner).',
    usage: 'bertorch finetune --train <file> [--eval <file>] --model <pretrained dir> --out <dir> [options]',
    options: {
      train: s('labeled training file', { required: true }),
      eval: s('labeled evaluation file'),
      out: s('output folder: the fine-tuned HF model + tokenizer', { required: true }),
      model: s('pretrained HF folder with tokenizer files (without it: a new --preset model and a tokenizer trained on --train)'),
      task: s('what to predict', { default: 'classification', choices: ['classification', 'ner'] }),
      ...CLS_DATA,
      labels: { kind: 'list', help: 'label names in id order (default: sorted labels of --train)' },
      'multi-label': b('several labels per row (JSONL array or --label-delimiter separated)'),
      'label-delimiter': s('separator of multi-label labels', { default: ',' }),
      regression: b('the label is a number'),
      scheme: s('CoNLL tagging scheme', { default: 'IOB2', choices: ['IOB2', 'IOB1'] }),
      'label-all-subwords': b('NER: label every word piece, not only the first'),
      preset: s('model size without --model', { default: 'mini', choices: Object.keys(PRESETS) }),
      'vocab-size': i('tokenizer vocabulary without --model', 8000),
      'metric-for-best-model': s('metric that ranks checkpoints', { default: 'eval_loss' }),
      'load-best-model-at-end': b('keep the best evaluated weights'),
      'early-stopping-patience': i('stop after N evaluations without improvement'),
      ...TRAINING,
      ...COMMON,
    },
    run: finetune,
  },
  evaluate: {
    summary: 'Prints the classification report of a model on labeled data (seqeval entity report for NER models).',
    usage: 'bertorch evaluate --model <dir> --data <file> [options]',
    options: {
      model: s('fine-tuned HF folder with tokenizer files', { required: true }),
      data: s('labeled file: CSV/TSV/JSONL, or CoNLL for a token classifier', { required: true }),
      ...CLS_DATA,
      'label-delimiter': s('separator of multi-label labels', { default: ',' }),
      scheme: s('CoNLL tagging scheme', { default: 'IOB2', choices: ['IOB2', 'IOB1'] }),
      'batch-size': i('examples per batch', 64),
      'max-length': i('tokens per example', 128),
      digits: i('decimal places', 4),
      json: b('print one JSON object instead of the text report'),
      ...COMMON,
    },
    run: evaluate,
  },
  predict: {
    summary: 'Predicts texts from JSONL / CSV / TSV / text lines (a file or stdin) and writes JSONL.',
    usage: 'bertorch predict --model <dir> [--input <file>|-] [--output <file>] [options]',
    options: {
      model: s('fine-tuned HF folder with tokenizer files', { required: true }),
      input: s('input file; - or none reads stdin', { default: '-' }),
      output: s('output JSONL file; - or none writes stdout', { default: '-' }),
      format: s('input format (auto: by extension, text for stdin)', { default: 'auto', choices: ['auto', 'text', 'jsonl', 'csv', 'tsv'] }),
      'text-column': s('JSONL field or CSV/TSV column of the text', { default: 'text' }),
      'batch-size': i('most texts per forward pass', 32),
      'max-length': i('tokens per text', 128),
      threshold: n('multi-label cut-off', 0.5),
      ...COMMON,
    },
    run: predict,
  },
};

// ---- parsing ----

const camel = (k: string) => k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

function convert(name: string, o: Opt, raw: unknown, from: string): unknown {
  const bad = (what: string): never => { throw new UsageError(`Expected ${what} for ${from}${name} but received ${JSON.stringify(raw)}`); };
  switch (o.kind) {
    case 'boolean':
      if (typeof raw === 'boolean') return raw;
      return raw === 'true' ? true : raw === 'false' ? false : bad('true or false');
    case 'int': case 'number': {
      const x = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
      if (!Number.isFinite(x) || (o.kind === 'int' && !Number.isInteger(x))) bad(o.kind === 'int' ? 'an integer' : 'a number');
      if (x < 0) bad('a number >= 0');
      return x;
    }
    case 'list': {
      const xs = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',') : bad('a list');
      return xs.map((x) => String(x).trim()).filter(Boolean);
    }
    default:
      if (typeof raw !== 'string' && typeof raw !== 'number') bad('a string');
      if (o.choices && !o.choices.includes(String(raw))) bad(`one of ${o.choices.join(', ')}`);
      return String(raw);
  }
}

async function readConfig(file: string, command: string, options: Opts): Promise<Values> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read --config ${file}: ${(e as Error).message}`);
  }
  let data: unknown;
  try {
    data = /\.ya?ml$/i.test(file) ? YAML.parse(text) : JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--config ${file} is not valid ${/\.ya?ml$/i.test(file) ? 'YAML' : 'JSON'}: ${(e as Error).message}`);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new UsageError(`--config ${file} must hold an object of options`);
  // Top-level keys apply to every command; a section named after a command applies to it alone.
  const flat: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(data)) if (!(k in COMMANDS)) flat[kebab(k)] = v;
  const section = (data as Record<string, unknown>)[command];
  if (section !== undefined) {
    if (section === null || typeof section !== 'object' || Array.isArray(section)) throw new UsageError(`--config ${file}: "${command}" must be an object`);
    for (const [k, v] of Object.entries(section)) flat[kebab(k)] = v;
  }
  const out: Values = {};
  for (const [k, v] of Object.entries(flat)) {
    if (k === 'config') continue;
    if (!(k in options)) throw new UsageError(`unknown option "${k}" in --config ${file} for bertorch ${command}`);
    out[k] = convert(k, options[k], v, `"${k}" in ${path.basename(file)}: `);
  }
  return out;
}

/** Flags, then the config file under them, then defaults; checks required options. */
export async function parseOptions(command: string, argv: string[]): Promise<Values | 'help'> {
  const { options } = COMMANDS[command];
  const spec: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const [k, o] of Object.entries(options)) spec[k] = o.kind === 'boolean' ? { type: 'boolean' } : { type: 'string', multiple: o.kind === 'list' };
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: spec, strict: true, allowPositionals: false, allowNegative: true } as never) as { values: Record<string, unknown> };
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/\. To specify.*$/s, '').replace(/^Unknown option/, 'unknown option'));
  }
  const flags = parsed.values;
  if (flags.help) return 'help';
  const fromConfig = typeof flags.config === 'string' ? await readConfig(flags.config, command, options) : {};
  const v: Values = {};
  for (const [k, o] of Object.entries(options)) {
    let value: unknown = o.default;
    if (k in fromConfig) value = fromConfig[k];
    if (flags[k] !== undefined) value = convert(k, o, o.kind === 'list' ? (flags[k] as string[]).flatMap((x) => x.split(',')) : flags[k], '--');
    if (o.required && (value === undefined || (Array.isArray(value) && value.length === 0))) throw new UsageError(`missing --${k} (${o.help})`);
    v[camel(k)] = value;
  }
  return v;
}

function helpText(command: string): string {
  const c = COMMANDS[command];
  const rows = Object.entries(c.options).map(([k, o]) => {
    const arg = o.kind === 'boolean' ? '' : o.kind === 'list' ? ' <a,b,...>' : o.kind === 'string' ? ' <value>' : ' <n>';
    const extra = [o.required ? 'required' : '', o.choices ? `one of ${o.choices.join('|')}` : '', o.default !== undefined && o.kind !== 'boolean' ? `default ${o.default}` : '']
      .filter(Boolean).join('; ');
    return [`  --${k}${arg}`, `${o.help}${extra ? ` (${extra})` : ''}`];
  });
  rows.push(['  -h, --help', 'show this help']);
  const width = Math.max(...rows.map(([l]) => l.length)) + 2;
  return `${c.summary}\n\nUsage: ${c.usage}\n\nOptions:\n${rows.map(([l, r]) => l.padEnd(width) + r).join('\n')}\n`;
}

const GENERAL = `bertorch: pretrain, fine-tune, evaluate and serve BERT from Node.js on libtorch

Usage: bertorch <command> [options]

Commands:
${Object.entries(COMMANDS).map(([k, c]) => `  ${k.padEnd(10)}${c.summary}`).join('\n')}

Run 'bertorch <command> --help' for a command's options. Options can also come
from --config <file.json|file.yaml>; flags win over the file.
Exit codes: 0 ok, 1 runtime error, 2 usage error, 130 interrupted.
`;

// ---- the entry point ----

/** Where a command reads and writes (the process's streams, or test doubles). */
export interface Io {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/**
 * Runs `bertorch <argv>` and resolves to the exit code (it never calls process.exit).
 * @example process.exitCode = await main(process.argv.slice(2));
 */
export async function main(argv: string[], io: Io = process): Promise<number> {
  const [command, ...rest] = argv;
  const err = (msg: string) => io.stderr.write(msg.endsWith('\n') ? msg : msg + '\n');
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    const target = command === 'help' ? rest[0] : undefined;
    if (target && target in COMMANDS) io.stdout.write(helpText(target));
    else (command === undefined ? err : (m: string) => io.stdout.write(m))(GENERAL);
    return command === undefined ? 2 : 0;
  }
  if (command === '--version' || command === '-v') {
    const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8').catch(() => readFile(new URL('../../package.json', import.meta.url), 'utf8')));
    io.stdout.write(`${pkg.version}\n`);
    return 0;
  }
  if (!(command in COMMANDS)) {
    err(`bertorch: unknown command '${command}' (expected one of ${Object.keys(COMMANDS).join(', ')}); run 'bertorch --help'`);
    return 2;
  }
  let values: Values | 'help';
  try {
    values = await parseOptions(command, rest);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    err(`bertorch ${command}: ${e.message}\nRun 'bertorch ${command} --help' for the options.`);
    return 2;
  }
  if (values === 'help') {
    io.stdout.write(helpText(command));
    return 0;
  }
  try {
    return await COMMANDS[command].run(values, io);
  } catch (e) {
    if (e instanceof UsageError) {
      err(`bertorch ${command}: ${e.message}\nRun 'bertorch ${command} --help' for the options.`);
      return 2;
    }
    const code = (e as { code?: string } | null)?.code;
    err(`bertorch ${command}: ${(e as Error)?.message ?? e}${code && !String((e as Error).message).includes(code) ? ` [${code}]` : ''}`);
    if (process.env.BERTORCH_DEBUG) err(String((e as Error)?.stack));
    return 1;
  }
}

// ---- shared pieces ----

function say(io: Io, v: Values, msg: string): void {
  if (!v.quiet) io.stderr.write(`[bertorch] ${msg}\n`);
}

function trainerOptions(v: Values, out: string, tokenizer: Tokenizer, hasEval: boolean): TrainerOptions {
  return {
    epochs: v.epochs, maxSteps: v.maxSteps, lr: v.lr, warmupRatio: v.warmupRatio, weightDecay: v.weightDecay, seed: v.seed,
    loggingSteps: v.loggingSteps, evalSteps: hasEval ? v.evalSteps : undefined, outputDir: path.join(out, 'checkpoints'),
    saveSteps: v.saveSteps, saveTotalLimit: 2, saveAtEnd: v.saveSteps !== undefined, tokenizer,
    runName: v.runName, runsDir: path.join(out, 'runs'), progress: v.quiet ? 'none' : 'auto',
  };
}

/** A Trainer; an option it refuses came from the flags, so that is a usage error. */
function makeTrainer(model: PreTrainedBert, options: TrainerOptions): Trainer {
  try {
    return new Trainer(model, options);
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_INVALID_ARG') throw new UsageError((e as Error).message);
    throw e;
  }
}

/** Runs fit() with Ctrl-C as an abort (the Trainer stops after the step and checkpoints); resolves to the stop reason. */
async function fit(trainer: Trainer, train: BatchSource, evalData: BatchSource | undefined, resume: boolean): Promise<FitResult> {
  const ac = new AbortController();
  const onSigint = () => ac.abort();
  process.once('SIGINT', onSigint);
  try {
    return await trainer.fit(train, { evalData, signal: ac.signal, resume: resume || undefined });
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** Saves the model and tokenizer into --out and prints the summary; an interrupted run keeps only its checkpoint (exit 130). */
async function finish(io: Io, v: Values, command: string, model: PreTrainedBert, tokenizer: Tokenizer, r: FitResult): Promise<number> {
  if (r.stopReason !== 'aborted') {
    await model.savePretrained(v.out);
    await tokenizer.save(v.out);
  }
  io.stdout.write(summary(command, v.out, r));
  if (r.stopReason === 'aborted') {
    say(io, v, `interrupted: checkpoint ${r.lastCheckpoint}; continue with the same command and --resume`);
    return 130;
  }
  say(io, v, `saved the model and tokenizer to ${v.out}`);
  return 0;
}

/** A missing input folder or file fails with its flag's name, before any loading. */
async function mustExist(file: string | undefined, flag: string): Promise<void> {
  if (file === undefined || file === '-') return;
  if (!(await stat(file).then(() => true, () => false))) throw new Error(`${flag} ${file}: no such file or folder`);
}

function toDevice(model: PreTrainedBert, device: string): void {
  if (device !== 'cpu') model.to(device as Device);
}

/** The run's summary line: steps, why it stopped, the last evaluation's metrics. */
function summary(command: string, out: string, r: FitResult): string {
  const rec = r.state.log_history.filter((x) => Object.keys(x).some((k) => k.startsWith('eval_'))).at(-1);
  const metrics = rec ? Object.fromEntries(Object.entries(rec).filter(([k]) => k.startsWith('eval_'))) : {};
  return JSON.stringify({ command, out, steps: r.globalStep, trainLoss: r.trainLoss, stopReason: r.stopReason, ...metrics }) + '\n';
}

// ---- pretrain ----

async function pretrain(v: Values, io: Io): Promise<number> {
  const out: string = v.out;
  for (const [flag, dir] of [['--model', v.model], ['--tokenizer', v.tokenizer]]) await mustExist(dir, flag);
  const corpusDir = path.join(out, 'corpus');
  const corpus = await prepareCorpus({ inputs: v.corpus, outDir: corpusDir, field: v.field, column: v.column, split: { validation: v.validation, test: 0 }, seed: String(v.seed) });
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
    const model = v.model
      ? await BertForMaskedLM.fromPretrained(v.model)
      : BertForMaskedLM.create({
        ...PRESETS[v.preset as keyof typeof PRESETS], vocab_size: tokenizer.vocabSize, pad_token_id: tokenizer.specialTokenIds.pad,
        max_position_embeddings: Math.max(v.maxPositionEmbeddings, blockSize),
      }, { seed: v.seed });
    try {
      if (model.config.vocab_size < tokenizer.vocabSize) throw new UsageError(`the model's vocabulary (${model.config.vocab_size}) is smaller than the tokenizer's (${tokenizer.vocabSize})`);
      toDevice(model, v.device);
      say(io, v, `MLM pretraining: ${(model.numParameters / 1e6).toFixed(2)}M parameters, ${trainSet.length} blocks of ${blockSize} tokens, batch ${v.batchSize}`);
      const trainer = makeTrainer(model, trainerOptions(v, out, tokenizer, val !== undefined));
      const r = await fit(trainer, train, val, v.resume);
      return await finish(io, v, 'pretrain', model, tokenizer, r);
    } finally {
      model.dispose();
    }
  } finally {
    trainReader.close();
    valReader?.close();
  }
}

// ---- finetune ----

async function classificationData(file: string, v: Values, fixed: { labels?: string[]; problemType?: string }): Promise<ClsDs> {
  const multi = fixed.problemType ? fixed.problemType === 'multi_label_classification' : v.multiLabel;
  const regression = fixed.problemType ? fixed.problemType === 'regression' : v.regression;
  return ClassificationDataset.fromFile(file, {
    textColumn: v.textColumn, textPairColumn: v.textPairColumn, labelColumn: v.labelColumn, regression,
    multiLabel: multi ? { delimiter: v.labelDelimiter } : false, labels: regression ? undefined : fixed.labels,
  });
}

async function finetune(v: Values, io: Io): Promise<number> {
  if (v.multiLabel && v.regression) throw new UsageError('--multi-label and --regression exclude each other');
  const ner = v.task === 'ner';
  const out: string = v.out;
  for (const [flag, file] of [['--train', v.train], ['--eval', v.eval], ['--model', v.model]]) await mustExist(file, flag);
  let tokenizer: Tokenizer;
  let labels: string[];
  let problemType: string | undefined;
  let train: { length: number };
  let evalSet: { length: number } | undefined;
  let collate;
  const fixed = v.labels?.length ? v.labels : undefined;
  if (ner) {
    const trainSet = await TokenClassificationDataset.fromConll(v.train, { scheme: v.scheme, labels: fixed, labelAllSubwords: v.labelAllSubwords });
    labels = [...trainSet.labels];
    evalSet = v.eval ? await TokenClassificationDataset.fromConll(v.eval, { scheme: v.scheme, labels }) : undefined;
    train = trainSet;
    const texts = () => Array.from({ length: trainSet.length }, (_, k) => trainSet.get(k).words.join(' '));
    tokenizer = v.model ? await Tokenizer.fromPretrained(v.model) : await trainWordPiece({ iterator: texts(), vocabSize: v.vocabSize, minFrequency: 1 });
    collate = tokenClassificationCollator(tokenizer, { maxLength: v.maxLength, labels, labelAllSubwords: v.labelAllSubwords });
  } else {
    const trainSet = await classificationData(v.train, v, { labels: fixed });
    labels = [...trainSet.labels];
    problemType = trainSet.problemType;
    evalSet = v.eval ? await classificationData(v.eval, v, { labels, problemType }) : undefined;
    train = trainSet;
    const texts = () => Array.from({ length: trainSet.length }, (_, k) => { const e = trainSet.get(k); return e.pair ? `${e.text} ${e.pair}` : e.text; });
    tokenizer = v.model ? await Tokenizer.fromPretrained(v.model) : await trainWordPiece({ iterator: texts(), vocabSize: v.vocabSize, minFrequency: 1 });
    collate = classificationCollator(tokenizer, { maxLength: v.maxLength, problemType: trainSet.problemType });
  }
  if (train.length === 0) throw new Error(`no examples in ${v.train}`);
  const Cls = ner ? BertForTokenClassification : BertForSequenceClassification;
  const names = problemType === 'regression' ? 1 : labels;
  const model = v.model
    ? await Cls.fromPretrained(v.model, { labels: names, problemType: problemType as never, seed: v.seed })
    : Cls.create({
      ...PRESETS[v.preset as keyof typeof PRESETS], vocab_size: tokenizer.vocabSize, pad_token_id: tokenizer.specialTokenIds.pad,
      max_position_embeddings: Math.max(512, v.maxLength), problem_type: (problemType ?? null) as never, ...labelConfig(names),
    }, { seed: v.seed });
  try {
    toDevice(model, v.device);
    const maxLength = Math.min(v.maxLength, model.config.max_position_embeddings);
    if (maxLength !== v.maxLength) throw new UsageError(`--max-length ${v.maxLength} is over the model's max_position_embeddings (${model.config.max_position_embeddings})`);
    const trainLoader = new DataLoader(train as never, { batchSize: v.batchSize, shuffle: true, seed: v.seed, collate: collate as never });
    const evalLoader = evalSet ? new DataLoader(evalSet as never, { batchSize: v.evalBatchSize, collate: collate as never }) : undefined;
    const kind = ner ? 'token classification' : problemType!.replace(/_/g, ' ');
    say(io, v, `fine-tuning (${kind}, ${problemType === 'regression' ? 'a value' : `${labels.length} labels`}): ${train.length} training examples${evalSet ? `, ${evalSet.length} for evaluation` : ''}, ${(model.numParameters / 1e6).toFixed(2)}M parameters`);
    const options: TrainerOptions = {
      ...trainerOptions(v, out, tokenizer, evalLoader !== undefined), metricForBestModel: v.metricForBestModel,
      loadBestModelAtEnd: v.loadBestModelAtEnd, earlyStoppingPatience: v.earlyStoppingPatience,
    };
    if (ner && evalSet) options.computeMetrics = (p) => nerMetrics(p, evalSet as TokenClassificationDataset, labels);
    if (v.loadBestModelAtEnd) {
      // The best weights are read back from a checkpoint, so save at every evaluation.
      if (!evalLoader) throw new UsageError('--load-best-model-at-end needs --eval');
      Object.assign(options, v.evalSteps ? { saveStrategy: 'steps', saveSteps: v.saveSteps ?? v.evalSteps } : { saveStrategy: 'epoch', saveSteps: undefined });
    }
    const trainer = makeTrainer(model, options);
    const r = await fit(trainer, trainLoader, evalLoader, v.resume);
    return await finish(io, v, 'finetune', model, tokenizer, r);
  } finally {
    model.dispose();
  }
}

function labelConfig(labels: number | string[]): Partial<BertConfig> {
  const names = typeof labels === 'number' ? Array.from({ length: labels }, (_, k) => `LABEL_${k}`) : labels;
  return { id2label: Object.fromEntries(names.map((l, k) => [String(k), l])), label2id: Object.fromEntries(names.map((l, k) => [l, k])) };
}

// ---- evaluate ----

/**
 * Word-level tags of each sentence: the truth from the dataset, the prediction
 * from each word's first word piece (rows in dataset order); words cut off by
 * --max-length count as predicted 'O', so truncation shows as missed entities.
 */
function nerTags(batches: readonly PredictionBatch[], data: TokenClassificationDataset, names: readonly string[]): { yTrue: string[][]; yPred: string[][] } {
  const yTrue: string[][] = [];
  const yPred: string[][] = [];
  let row = 0;
  for (const bt of batches) {
    const [B, T, C] = bt.shape;
    const pred = argmaxRows(bt.logits, C);
    for (let r = 0; r < B; r++, row++) {
      const truth = Array.from(data.get(row).labels, (id) => data.labels[id]);
      const tags: string[] = [];
      for (let t = 0; t < T && tags.length < truth.length; t++) if (bt.labels![r * T + t] !== -100) tags.push(names[pred[r * T + t]] ?? 'O');
      while (tags.length < truth.length) tags.push('O');
      yTrue.push(truth);
      yPred.push(tags);
    }
  }
  return { yTrue, yPred };
}

function nerMetrics(p: EvalPrediction, data: TokenClassificationDataset, names: readonly string[]): Record<string, number> {
  const { yTrue, yPred } = nerTags(p.batches, data, names);
  const r = nerReport(yTrue, yPred, { zeroDivision: 0 });
  let right = 0, total = 0;
  yTrue.forEach((tags, k) => tags.forEach((tag, t) => { total++; if (yPred[k][t] === tag) right++; }));
  return { precision: r.microAvg.precision, recall: r.microAvg.recall, f1: r.microAvg.f1, accuracy: total ? right / total : 0 };
}

async function evaluate(v: Values, io: Io): Promise<number> {
  await mustExist(v.model, '--model');
  await mustExist(v.data, '--data');
  const tokenizer = await Tokenizer.fromPretrained(v.model);
  const model = await PreTrainedBert.fromPretrained(v.model);
  try {
    toDevice(model, v.device);
    const names = labelNames(model.config.id2label, numLabelsOf(model.config));
    const problemType = model.config.problem_type ?? 'single_label_classification';
    const maxLength = Math.min(v.maxLength, model.config.max_position_embeddings);
    const trainer = new Trainer(model, { progress: 'none' });
    let report: ClassificationReport | undefined;
    let extra: Record<string, number> = {};
    let loss: number;
    if (model.architecture === 'BertForTokenClassification') {
      const data = await TokenClassificationDataset.fromConll(v.data, { scheme: v.scheme, labels: names });
      const collate = tokenClassificationCollator(tokenizer, { maxLength, labels: names });
      const p = await trainer.collect(new DataLoader(data, { batchSize: v.batchSize, collate }), { keepAllRows: true });
      const { yTrue, yPred } = nerTags(p.batches, data, names);
      report = nerReport(yTrue, yPred, { digits: v.digits, zeroDivision: 0 });
      loss = p.loss;
    } else if (model.architecture === 'BertForSequenceClassification') {
      const data = await classificationData(v.data, v, { labels: names, problemType });
      const collate = classificationCollator(tokenizer, { maxLength, problemType: data.problemType });
      const p = await trainer.collect(new DataLoader(data, { batchSize: v.batchSize, collate }), { keepAllRows: true });
      loss = p.loss;
      if (problemType === 'regression') extra = regressionMetrics(p.batches);
      else if (problemType === 'multi_label_classification') {
        const rows = (key: 'logits' | 'labels') => p.batches.flatMap((bt) => {
          const L = bt.shape[1];
          const src = bt[key]!;
          return Array.from({ length: bt.shape[0] }, (_, r) => Array.from(src.subarray(r * L, (r + 1) * L), (x) => (key === 'logits' ? (x > 0 ? 1 : 0) : x)));
        });
        report = multilabelReport(rows('labels'), rows('logits'), { targetNames: names, digits: v.digits, zeroDivision: 0 });
      } else {
        const yPred = p.batches.flatMap((bt) => Array.from(argmaxRows(bt.logits, bt.shape[1])));
        const yTrue = p.batches.flatMap((bt) => Array.from(bt.labels!));
        report = classificationReport(yTrue, yPred, { labels: names.map((_, k) => k), targetNames: names, digits: v.digits, zeroDivision: 0 });
      }
    } else {
      throw new Error(`${v.model} holds a ${model.architecture}; evaluate takes a sequence or token classifier`);
    }
    if (v.json) {
      io.stdout.write(JSON.stringify({ loss, ...extra, ...(report ? { report: reportToDict(report) } : {}) }) + '\n');
    } else {
      io.stdout.write(`loss: ${loss.toFixed(v.digits)}\n`);
      for (const [k, x] of Object.entries(extra)) io.stdout.write(`${k}: ${x.toFixed(v.digits)}\n`);
      if (report) io.stdout.write('\n' + formatClassificationReport(report, v.digits));
    }
    return 0;
  } finally {
    model.dispose();
  }
}

function regressionMetrics(batches: readonly PredictionBatch[]): Record<string, number> {
  let se = 0, ae = 0, k = 0, sum = 0, sumSq = 0;
  for (const bt of batches) {
    for (let r = 0; r < bt.logits.length; r++) {
      const y = bt.labels![r];
      const d = bt.logits[r] - y;
      se += d * d; ae += Math.abs(d); sum += y; sumSq += y * y; k++;
    }
  }
  const variance = sumSq / k - (sum / k) ** 2;
  return { mse: se / k, mae: ae / k, r2: 1 - se / k / variance };
}

// ---- predict ----

async function* inputTexts(v: Values, io: Io): AsyncGenerator<string> {
  const stdin = v.input === '-';
  const ext = stdin ? '' : v.input.replace(/\.gz$/, '').split('.').pop()!.toLowerCase();
  const format = v.format !== 'auto' ? v.format : ext === 'jsonl' || ext === 'ndjson' ? 'jsonl' : ext === 'csv' ? 'csv' : ext === 'tsv' ? 'tsv' : 'text';
  if (format === 'csv' || format === 'tsv') {
    const rows = parseCsv(stdin ? await readAll(io.stdin) : await readFile(v.input, 'utf8'), { columns: true, delimiter: format === 'tsv' ? '\t' : ',', skip_empty_lines: true }) as Record<string, string>[];
    if (rows.length && !(v.textColumn in rows[0])) throw new Error(`column "${v.textColumn}" not found in ${v.input}: the header has ${Object.keys(rows[0]).join(', ')}`);
    for (const row of rows) yield row[v.textColumn];
    return;
  }
  const lines = createInterface({ input: stdin ? io.stdin : createReadStream(v.input), crlfDelay: Infinity });
  let line = 0;
  for await (const text of lines) {
    line++;
    if (text.trim() === '') continue;
    if (format === 'text') { yield text; continue; }
    let obj: unknown;
    try { obj = JSON.parse(text); } catch (e) { throw new Error(`${v.input === '-' ? 'stdin' : v.input}:${line}: not JSON (${(e as Error).message})`); }
    const value = (obj as Record<string, unknown>)?.[v.textColumn];
    if (typeof value !== 'string') throw new Error(`${v.input === '-' ? 'stdin' : v.input}:${line}: no string field "${v.textColumn}"`);
    yield value;
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
  return Buffer.concat(chunks).toString('utf8');
}

async function predict(v: Values, io: Io): Promise<number> {
  await mustExist(v.model, '--model');
  await mustExist(v.input, '--input');
  const predictor = await createPredictor(v.model, {
    maxBatchSize: v.batchSize, maxLength: v.maxLength, threshold: v.threshold, maxWaitMs: 1,
    device: v.device === 'cpu' ? undefined : v.device,
  });
  let file: FileHandle | undefined;
  try {
    if (v.output !== '-') {
      await mkdir(path.dirname(path.resolve(v.output)), { recursive: true });
      file = await open(v.output, 'w');
    }
    const write = async (line: string) => { if (file) await file.write(line); else if (!io.stdout.write(line)) await new Promise((r) => io.stdout.once('drain', r)); };
    // Up to a few batches in flight, written in input order.
    const window: Array<Promise<string>> = [];
    const ahead = v.batchSize * 4;
    let count = 0;
    for await (const text of inputTexts(v, io)) {
      const line = predictor.predict(text).then((r) => JSON.stringify(Array.isArray(r) ? { text, entities: r } : { text, ...r }) + '\n');
      line.catch(() => {}); // awaited below, in order; this keeps a failure from being "unhandled" meanwhile
      window.push(line);
      if (window.length >= ahead) await write(await window.shift()!);
      count++;
    }
    while (window.length) await write(await window.shift()!);
    const st = predictor.stats();
    say(io, v, `${count} texts in ${st.forwardPasses} forward passes${v.output !== '-' ? ` -> ${v.output}` : ''}`);
    return 0;
  } finally {
    await file?.close();
    await predictor.close();
  }
}
