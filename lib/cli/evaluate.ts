import { classificationCollator, DataLoader, tokenClassificationCollator } from '../data/index.js';
import { classificationReport, formatClassificationReport, multilabelReport, nerReport, reportToDict, type ClassificationReport } from '../metrics/index.js';
import { numLabelsOf, PreTrainedBert } from '../models/index.js';
import { labelNames } from '../serve/postprocess.js';
import { Tokenizer } from '../tokenizer.js';
import { argmaxRows, Trainer } from '../train/index.js';
import { classificationData, conllData } from './datasets.js';
import { mustExist, toDevice, type Command, type Io } from './command.js';
import { nerTags, regressionMetrics } from './metrics.js';
import { multiLabelTable, regressionTable, singleLabelTable, tokenTable, writeEvaluationRows } from './evaluation-rows.js';
import { b, BAD_ROWS, CLS_DATA, CONLL, COMMON, i, s, type Values } from './options.js';
import { baselineLine, BASELINE_FILE, fitBaseline, recordedTrainFile } from './baseline.js';
import type { BaselineEvaluation } from '../baseline/index.js';

export const evaluateCommand: Command = {
  summary: 'Prints the classification report of a model on labeled data (seqeval entity report for NER models).',
  usage: 'bertorch evaluate --model <dir> --data <file> [options]',
  options: {
    model: s('fine-tuned HF folder with tokenizer files', { required: true }),
    data: s('labeled file: CSV/TSV/JSONL, or CoNLL for a token classifier', { required: true }),
    ...CLS_DATA,
    'label-delimiter': s('separator of multi-label labels', { default: ',' }),
    ...CONLL,
    ...BAD_ROWS,
    'batch-size': i('examples per batch', 64),
    'max-length': i('tokens per example', 128),
    digits: i('decimal places', 4),
    json: b('print one JSON object instead of the text report'),
    output: s('also write one row per example (text, label, prediction, score, correct; per-word tags for NER, label lists for multi-label, values and error for regression) to this JSONL file, or Parquet for a path ending in .parquet'),
    train: s(`labeled training file for the TF-IDF baseline (default: the one finetune recorded in the model's ${BASELINE_FILE})`),
    baseline: { kind: 'boolean', help: 'score a TF-IDF + logistic-regression baseline beside the model (--no-baseline: off)', default: true },
    ...COMMON,
  },
  run: evaluate,
};

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
    let baseline: BaselineEvaluation | undefined;
    if (model.architecture === 'BertForTokenClassification') {
      const data = await conllData(v.data, v, io, { labels: names });
      const collate = tokenClassificationCollator(tokenizer, { maxLength, labels: names });
      const p = await trainer.collect(new DataLoader(data, { batchSize: v.batchSize, collate }), { keepAllRows: true });
      const { yTrue, yPred } = nerTags(p.batches, data, names);
      report = nerReport(yTrue, yPred, { digits: v.digits, zeroDivision: 0 });
      if (v.output) await writeEvaluationRows(v.output, tokenTable(data, yTrue, yPred));
      loss = p.loss;
    } else if (model.architecture === 'BertForSequenceClassification') {
      const data = await classificationData(v.data, v, io, { labels: names, problemType });
      const collate = classificationCollator(tokenizer, { maxLength, problemType: data.problemType });
      const p = await trainer.collect(new DataLoader(data, { batchSize: v.batchSize, collate }), { keepAllRows: true });
      loss = p.loss;
      if (problemType === 'regression') {
        extra = regressionMetrics(p.batches);
        if (v.output) await writeEvaluationRows(v.output, regressionTable(data, p.batches));
      } else if (problemType === 'multi_label_classification') {
        if (v.output) await writeEvaluationRows(v.output, multiLabelTable(data, p.batches, names));
        const rows = (key: 'logits' | 'labels') => p.batches.flatMap((bt) => {
          const L = bt.shape[1];
          const src = bt[key]!;
          return Array.from({ length: bt.shape[0] }, (_, r) => Array.from(src.subarray(r * L, (r + 1) * L), (x) => (key === 'logits' ? (x > 0 ? 1 : 0) : x)));
        });
        report = multilabelReport(rows('labels'), rows('logits'), { targetNames: names, digits: v.digits, zeroDivision: 0 });
      } else {
        const yPred = p.batches.flatMap((bt) => Array.from(argmaxRows(bt.logits, bt.shape[1])));
        const yTrue = p.batches.flatMap((bt) => Array.from(bt.labels!));
        if (v.output) await writeEvaluationRows(v.output, singleLabelTable(data, p.batches, names));
        report = classificationReport(yTrue, yPred, { labels: names.map((_, k) => k), targetNames: names, digits: v.digits, zeroDivision: 0 });
        const trainFile = !v.baseline ? undefined : v.train ?? await recordedTrainFile(v.model, io, v);
        if (trainFile) {
          await mustExist(trainFile, '--train');
          baseline = fitBaseline(await classificationData(trainFile, v, io, { labels: names, problemType }), data, names, v.digits);
        }
      }
    } else {
      throw new Error(`${v.model} holds a ${model.architecture}; evaluate takes a sequence or token classifier`);
    }
    if (v.json) {
      const base = baseline ? { baseline: { name: baseline.name, accuracy: baseline.accuracy, macroF1: baseline.macroF1, report: reportToDict(baseline.report) } } : {};
      io.stdout.write(JSON.stringify({ loss, ...extra, ...(report ? { report: reportToDict(report) } : {}), ...base }) + '\n');
    } else {
      io.stdout.write(`loss: ${loss.toFixed(v.digits)}\n`);
      for (const [k, x] of Object.entries(extra)) io.stdout.write(`${k}: ${x.toFixed(v.digits)}\n`);
      if (report) io.stdout.write('\n' + formatClassificationReport(report, v.digits));
      if (baseline) {
        io.stdout.write(`\nbaseline: ${baseline.name}, fitted on the training file\n\n${formatClassificationReport(baseline.report, v.digits)}`);
        io.stdout.write(`\n${baselineLine(baseline, { accuracy: report?.accuracy, f1: report?.macroAvg.f1 })}\n`);
      }
    }
    return 0;
  } finally {
    model.dispose();
  }
}
