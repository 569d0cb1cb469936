import {
  classificationCollator, DataLoader, TokenClassificationDataset, tokenClassificationCollator,
} from '../data/index.js';
import { BertForSequenceClassification, BertForTokenClassification, PRESETS, type BertConfig } from '../models/index.js';
import { Tokenizer, trainWordPiece } from '../tokenizer.js';
import type { TrainerOptions } from '../train/index.js';
import { classificationData, conllData } from './datasets.js';
import { mustExist, say, toDevice, type Command, type Io } from './command.js';
import { nerMetrics } from './metrics.js';
import { b, BAD_ROWS, CLS_DATA, CONLL, COMMON, i, s, TRAINING, UsageError, type Values } from './options.js';
import { finish, fit, makeTrainer, trainerOptions } from './training.js';
import { baselineLine, fitBaseline, recordBaseline } from './baseline.js';
import type { BaselineEvaluation } from '../baseline/index.js';
import type { ClassificationDataset } from '../data/index.js';

export const finetuneCommand: Command = {
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
    ...CONLL,
    ...BAD_ROWS,
    'label-all-subwords': b('NER: label every word piece, not only the first'),
    'group-by-length': b('batch training examples of similar token length together (HF group_by_length): less padding, same examples each epoch'),
    'pad-to-multiple-of': i('round each batch\'s padded length up to a multiple of N (fewer distinct shapes)', 1),
    preset: s('model size without --model', { default: 'mini', choices: Object.keys(PRESETS) }),
    'vocab-size': i('tokenizer vocabulary without --model', 8000),
    'metric-for-best-model': s('metric that ranks checkpoints', { default: 'eval_loss' }),
    'load-best-model-at-end': b('keep the best evaluated weights'),
    'early-stopping-patience': i('stop after N evaluations without improvement'),
    baseline: { kind: 'boolean', help: 'fit a TF-IDF + logistic-regression baseline on --train and score it on --eval beside the model (--no-baseline: off)', default: true },
    ...TRAINING,
    ...COMMON,
  },
  run: finetune,
};

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
  let baseline: BaselineEvaluation | undefined;
  let lengths: Int32Array | undefined;
  const fixed = v.labels?.length ? v.labels : undefined;
  if (ner) {
    const trainSet = await conllData(v.train, v, io, { labels: fixed, labelAllSubwords: v.labelAllSubwords });
    labels = [...trainSet.labels];
    evalSet = v.eval ? await conllData(v.eval, v, io, { labels }) : undefined;
    train = trainSet;
    const texts = () => Array.from({ length: trainSet.length }, (_, k) => trainSet.get(k).words.join(' '));
    tokenizer = v.model ? await Tokenizer.fromPretrained(v.model) : await trainWordPiece({ iterator: texts(), vocabSize: v.vocabSize, minFrequency: 1 });
    collate = tokenClassificationCollator(tokenizer, { maxLength: v.maxLength, labels, labelAllSubwords: v.labelAllSubwords, padToMultipleOf: v.padToMultipleOf });
    if (v.groupByLength) lengths = await tokenLengths(tokenizer, Array.from({ length: trainSet.length }, (_, k) => trainSet.get(k).words), v.maxLength, true);
  } else {
    const trainSet = await classificationData(v.train, v, io, { labels: fixed });
    labels = [...trainSet.labels];
    problemType = trainSet.problemType;
    evalSet = v.eval ? await classificationData(v.eval, v, io, { labels, problemType }) : undefined;
    train = trainSet;
    // The cheapest honest baseline, on the same data (single-label classification with --eval).
    if (v.baseline && evalSet && problemType === 'single_label_classification' && trainSet.length > 0) {
      baseline = fitBaseline(trainSet, evalSet as ClassificationDataset, labels);
      say(io, v, baselineLine(baseline));
    }
    const texts = () => Array.from({ length: trainSet.length }, (_, k) => { const e = trainSet.get(k); return e.pair ? `${e.text} ${e.pair}` : e.text; });
    tokenizer = v.model ? await Tokenizer.fromPretrained(v.model) : await trainWordPiece({ iterator: texts(), vocabSize: v.vocabSize, minFrequency: 1 });
    collate = classificationCollator(tokenizer, { maxLength: v.maxLength, problemType: trainSet.problemType, padToMultipleOf: v.padToMultipleOf });
    if (v.groupByLength) {
      const inputs = Array.from({ length: trainSet.length }, (_, k): string | [string, string] => { const e = trainSet.get(k); return e.pair === undefined ? e.text : [e.text, e.pair]; });
      lengths = await tokenLengths(tokenizer, inputs, v.maxLength, false);
    }
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
    const trainLoader = new DataLoader(train as never, {
      batchSize: v.batchSize, shuffle: true, seed: v.seed, collate: collate as never, bucketByLength: lengths && ((k: number) => lengths![k]),
    });
    const evalLoader = evalSet ? new DataLoader(evalSet as never, { batchSize: v.evalBatchSize, collate: collate as never }) : undefined;
    const kind = ner ? 'token classification' : problemType!.replace(/_/g, ' ');
    say(io, v, `fine-tuning (${kind}, ${problemType === 'regression' ? 'a value' : `${labels.length} labels`}): ${train.length} training examples${evalSet ? `, ${evalSet.length} for evaluation` : ''}, ${(model.numParameters / 1e6).toFixed(2)}M parameters`);
    const options: TrainerOptions = {
      ...trainerOptions(v, out, tokenizer, evalLoader !== undefined), metricForBestModel: v.metricForBestModel,
      loadBestModelAtEnd: v.loadBestModelAtEnd, earlyStoppingPatience: v.earlyStoppingPatience,
      baselines: baseline ? [baseline] : undefined,
    };
    if (ner && evalSet) options.computeMetrics = (p) => nerMetrics(p, evalSet as TokenClassificationDataset, labels);
    if (v.loadBestModelAtEnd) {
      // The best weights are read back from a checkpoint, so save at every evaluation.
      if (!evalLoader) throw new UsageError('--load-best-model-at-end needs --eval');
      Object.assign(options, v.evalSteps ? { saveStrategy: 'steps', saveSteps: v.saveSteps ?? v.evalSteps } : { saveStrategy: 'epoch', saveSteps: undefined });
    }
    const trainer = makeTrainer(model, options);
    const r = await fit(trainer, trainLoader, evalLoader, v.resume);
    const code = await finish(io, v, 'finetune', model, tokenizer, r);
    if (baseline && code === 0) {
      const last = r.state.log_history.filter((x) => 'eval_accuracy' in x).at(-1);
      say(io, v, baselineLine(baseline, { accuracy: last?.eval_accuracy, f1: last?.eval_f1 }));
      await recordBaseline(out, v, baseline);
    }
    return code;
  } finally {
    model.dispose();
  }
}

// Token lengths of the training examples, truncated as the collator truncates,
// for --group-by-length (HF's LengthGroupedSampler sorts by input_ids length).
async function tokenLengths(tokenizer: Tokenizer, inputs: Array<string | [string, string] | string[]>, maxLength: number, words: boolean): Promise<Int32Array> {
  const out = new Int32Array(inputs.length);
  for (let k = 0; k < inputs.length; k += 4096) {
    const chunk = await tokenizer.encodeBatch(inputs.slice(k, k + 4096) as never, { truncation: true, maxLength, isSplitIntoWords: words });
    chunk.forEach((e, j) => (out[k + j] = e.inputIds.length));
  }
  return out;
}

function labelConfig(labels: number | string[]): Partial<BertConfig> {
  const names = typeof labels === 'number' ? Array.from({ length: labels }, (_, k) => `LABEL_${k}`) : labels;
  return { id2label: Object.fromEntries(names.map((l, k) => [String(k), l])), label2id: Object.fromEntries(names.map((l, k) => [l, k])) };
}
