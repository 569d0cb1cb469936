/**
 * `npm start`: the whole pipeline on one CPU in a few minutes, no downloads.
 *
 *   synthetic customer-service corpus (lib/synth) -> prepareCorpus -> trainWordPiece
 *   -> MLM-pretrain a small BERT -> fine-tune it on a few labeled intents
 *   -> fine-tune the same architecture from random init (the control, same steps and seed)
 *   -> evaluate both on held-out paraphrases -> classification reports, the gain, report.html
 *
 * Flags: --corpus <file> (repeatable; raw unlabeled text instead of the synthetic stream),
 * --train / --test <file> (labeled jsonl {"text","label"} or tsv "label<TAB>text"),
 * --model <HF folder> (start from it; --pretrain-steps 0 skips pretraining), --out <dir>,
 * --seed <n>, --pretrain-steps <n>, --epochs <n>, --lr <fine-tuning lr>, --unlabeled <n>,
 * --per-intent <n>, --synth '<json>' (CustomerServiceGenerator options: the task's difficulty),
 * --max-minutes <n> (a safety valve: pretraining stops early so the whole job ends in time; default 9).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { prepareCorpus } from '../lib/data/corpus.js';
import { BertForMaskedLM, BertForSequenceClassification, PRESETS, type BertConfig } from '../lib/index.js';
import { formatClassificationReport } from '../lib/metrics/index.js';
import { CustomerServiceGenerator, INTENT_NAMES } from '../lib/synth/index.js';
import { Tokenizer, trainWordPiece } from '../lib/tokenizer.js';
import { ArraySource, classificationEvaluation, MlmSource, Trainer, writeReport, type Example, type ReportEvaluation, type ReportRun } from '../lib/train/index.js';

const { values: args } = parseArgs({
  options: {
    corpus: { type: 'string', multiple: true },
    train: { type: 'string' },
    test: { type: 'string' },
    model: { type: 'string' },
    out: { type: 'string', default: 'runs/demo' },
    seed: { type: 'string', default: '1' },
    'pretrain-steps': { type: 'string' },
    epochs: { type: 'string', default: '20' },
    lr: { type: 'string', default: '1e-3' },
    unlabeled: { type: 'string', default: '60000' },
    'per-intent': { type: 'string', default: '24' },
    'max-length': { type: 'string', default: '48' },
    synth: { type: 'string', default: '{}' },
    'max-minutes': { type: 'string', default: '9' },
    help: { type: 'boolean', short: 'h' },
  },
});

if (args.help) {
  console.log(await readFile(new URL(import.meta.url), 'utf8').then((s) => s.split('*/')[0]));
  process.exit(0);
}

const int = (name: string, v: string | undefined, min = 0): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new RangeError(`Expected an integer >= ${min} for --${name} but received '${v}'`);
  return n;
};
const seed = int('seed', args.seed);
const out = args.out!;
const maxLength = int('max-length', args['max-length'], 8);
const pretrainSteps = int('pretrain-steps', args['pretrain-steps'] ?? (args.model ? '0' : '1500'));
const epochs = int('epochs', args.epochs, 1);
const finetuneLr = Number(args.lr);
if (!(finetuneLr > 0)) throw new RangeError(`Expected a positive number for --lr but received '${args.lr}'`);
const maxSeconds = int('max-minutes', args['max-minutes'], 1) * 60;
const t0 = performance.now();
const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(1)}s`;
const say = (msg: string) => console.log(`[${elapsed()}] ${msg}`);

// Small enough to pretrain usefully on 2 CPU cores in a few minutes (Turc et al.'s bert-tiny, 4 heads).
const ARCH: Partial<BertConfig> = { ...PRESETS.tiny, num_attention_heads: 4, max_position_embeddings: 64 };

interface Labeled { text: string; label: string }

/** jsonl ({"text", "label"|"intent"}) or tsv ("label<TAB>text"). */
async function readLabeled(file: string): Promise<Labeled[]> {
  const lines = (await readFile(file, 'utf8')).split('\n').filter((l) => l.trim());
  return lines.map((line, i) => {
    if (file.endsWith('.jsonl') || line.trimStart().startsWith('{')) {
      const o = JSON.parse(line);
      const label = o.label ?? o.intent;
      if (typeof o.text !== 'string' || label === undefined) throw new TypeError(`${file}:${i + 1}: expected {"text", "label"}`);
      return { text: o.text, label: String(label) };
    }
    const tab = line.indexOf('\t');
    if (tab < 0) throw new TypeError(`${file}:${i + 1}: expected "label<TAB>text"`);
    return { label: line.slice(0, tab), text: line.slice(tab + 1) };
  });
}

async function writeJsonl(file: string, rows: object[]): Promise<void> {
  await writeFile(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
}

/** The synthetic data (or the given files): unlabeled corpus inputs and labeled train / test sets. */
async function prepareData(): Promise<{ corpusInputs: string[]; train: Labeled[]; test: Labeled[]; labels: string[] }> {
  const dataDir = path.join(out, 'data');
  await mkdir(dataDir, { recursive: true });
  const synth = JSON.parse(args.synth!);
  const gen = new CustomerServiceGenerator({ ...synth, seed });
  // Its own stream, so the labeled sets do not depend on how much unlabeled text was drawn.
  const labeledGen = new CustomerServiceGenerator({ ...synth, seed: seed + 7919 });
  let corpusInputs = args.corpus ?? [];
  if (!corpusInputs.length) {
    const file = path.join(dataDir, 'unlabeled.txt');
    const n = int('unlabeled', args.unlabeled, 1);
    await writeFile(file, [...gen.unlabeled(n)].join('\n') + '\n');
    corpusInputs = [file];
    say(`generated ${n} unlabeled messages -> ${file}`);
  }
  let train: Labeled[], test: Labeled[];
  if (args.train && args.test) {
    [train, test] = [await readLabeled(args.train), await readLabeled(args.test)];
  } else if (args.train || args.test) {
    throw new TypeError('Expected both --train and --test (or neither, for the synthetic set)');
  } else {
    const perIntent = int('per-intent', args['per-intent'], 1);
    const trainRows = labeledGen.labeled({ perIntent, split: 'train' });
    const testRows = labeledGen.labeled({ perIntent: 40, split: 'test' });
    await writeJsonl(path.join(dataDir, 'train.jsonl'), trainRows.map((m) => ({ text: m.text, label: m.intent, tokens: m.tokens, tags: m.tags })));
    await writeJsonl(path.join(dataDir, 'test.jsonl'), testRows.map((m) => ({ text: m.text, label: m.intent, tokens: m.tokens, tags: m.tags })));
    train = trainRows.map((m) => ({ text: m.text, label: m.intent }));
    test = testRows.map((m) => ({ text: m.text, label: m.intent }));
    say(`generated ${train.length} labeled training messages (${perIntent} per intent, from ${labeledGen.options.seenPhrases} paraphrases and ${labeledGen.options.seenWords} verbs and nouns each) and ${test.length} test messages (held-out wordings)`);
  }
  const labels = args.train ? [...new Set(train.map((r) => r.label))].sort() : [...INTENT_NAMES];
  const unknown = test.find((r) => !labels.includes(r.label));
  if (unknown) throw new RangeError(`test label '${unknown.label}' does not occur in the training set`);
  return { corpusInputs, train, test, labels };
}

async function encodeLines(tok: Tokenizer, lines: string[]): Promise<Int32Array[]> {
  const out: Int32Array[] = [];
  for (let i = 0; i < lines.length; i += 4096) {
    const encs = await tok.encodeBatch(lines.slice(i, i + 4096), { truncation: true, maxLength });
    for (const e of encs) out.push(e.inputIds);
  }
  return out;
}

async function pretrain(tok: Tokenizer, corpusDir: string, runs: ReportRun[]): Promise<string | undefined> {
  if (pretrainSteps === 0) return args.model;
  const lines = (await readFile(path.join(corpusDir, 'train.txt'), 'utf8')).split('\n').filter(Boolean);
  const valLines = (await readFile(path.join(corpusDir, 'validation.txt'), 'utf8')).split('\n').filter(Boolean).slice(0, 512);
  const ids = tok.specialTokenIds;
  const mlmOpts = { maskTokenId: ids.mask, vocabSize: tok.vocabSize, specialIds: [ids.cls, ids.sep, ids.pad, ids.unk], padId: ids.pad, seed };
  const train = new MlmSource(await encodeLines(tok, lines), { ...mlmOpts, batchSize: 64 });
  const val = new MlmSource(await encodeLines(tok, valLines), { ...mlmOpts, batchSize: 64, shuffle: false, dropLast: false });
  const model = args.model
    ? await BertForMaskedLM.fromPretrained(args.model)
    : BertForMaskedLM.create({ ...ARCH, vocab_size: tok.vocabSize, pad_token_id: ids.pad }, { seed });
  say(`MLM pretraining: ${(model.numParameters / 1e6).toFixed(2)}M parameters, ${lines.length} sequences, ${pretrainSteps} steps of 64`);
  const trainer = new Trainer(model, {
    maxSteps: pretrainSteps, lr: 2e-3, warmupRatio: 0.06, weightDecay: 0.01, schedule: 'linear', seed,
    evalSteps: Math.max(1, Math.floor(pretrainSteps / 6)), loggingSteps: 25, runName: 'pretrain', runsDir: out,
    outputDir: path.join(out, 'pretrain'), saveSteps: 800, saveTotalLimit: 1, tokenizer: tok,
    reportConfig: { stage: 'MLM pretraining', sequences: lines.length },
    // Leave ~90 s for fine-tuning both models and the report.
    callbacks: [{ onStepEnd: (e) => {
      if ((performance.now() - t0) / 1000 > maxSeconds - 90) {
        console.log(`[${elapsed()}] time budget (--max-minutes ${maxSeconds / 60}) reached: pretraining stops at step ${e.step.step}`);
        e.stop();
      }
    } }],
  });
  const r = await trainer.fit(train, { evalData: val });
  const final = path.join(out, 'pretrain', 'final');
  await model.savePretrained(final);
  await tok.save(final);
  const m = r.state.log_history.filter((h) => 'eval_loss' in h).at(-1);
  say(`pretraining done in ${r.runtime.toFixed(0)}s: masked-token accuracy ${m?.eval_accuracy?.toFixed(3)}, perplexity ${m?.eval_perplexity?.toFixed(1)} -> ${final}`);
  runs.push({ name: 'MLM pretraining', history: r.state.log_history, group: 'pretraining' });
  model.dispose();
  return final;
}

async function toExamples(tok: Tokenizer, rows: Labeled[], labels: string[]): Promise<Example[]> {
  const encs = await tok.encodeBatch(rows.map((r) => r.text), { truncation: true, maxLength });
  return encs.map((e, i) => ({ inputIds: e.inputIds, label: labels.indexOf(rows[i].label) }));
}

async function finetune(name: string, runName: string, from: string | undefined, tok: Tokenizer, train: Example[], test: Example[], labels: string[], runs: ReportRun[]): Promise<ReportEvaluation & { accuracy: number; macroF1: number }> {
  const model = from
    ? await BertForSequenceClassification.fromPretrained(from, { labels, seed })
    : BertForSequenceClassification.create({ ...ARCH, vocab_size: tok.vocabSize, pad_token_id: tok.specialTokenIds.pad, ...labelConfig(labels) }, { seed });
  const trainSrc = new ArraySource(train, { batchSize: 16, shuffle: true, seed });
  const testSrc = new ArraySource(test, { batchSize: 64 });
  const trainer = new Trainer(model, {
    epochs, lr: finetuneLr, warmupRatio: 0.1, weightDecay: 0.01, seed, loggingSteps: 10, runName, runsDir: out,
    reportConfig: { stage: 'fine-tuning', init: from ?? 'random', examples: train.length },
  });
  const r = await trainer.fit(trainSrc, { evalData: testSrc });
  const ev = await classificationEvaluation(trainer, testSrc, name);
  runs.push({ name, history: r.state.log_history, group: 'fine-tuning' });
  model.dispose();
  return { ...ev, accuracy: ev.report.accuracy ?? 0, macroF1: ev.report.macroAvg.f1 };
}

function labelConfig(labels: string[]): Partial<BertConfig> {
  return {
    id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])),
    label2id: Object.fromEntries(labels.map((l, i) => [l, i])),
  };
}

async function main(): Promise<void> {
  await mkdir(out, { recursive: true });
  const { corpusInputs, train, test, labels } = await prepareData();
  const corpusDir = path.join(out, 'corpus');
  const summary = await prepareCorpus({ inputs: corpusInputs, outDir: corpusDir, split: { validation: 0.02, test: 0 }, seed: String(seed) });
  say(`corpus: ${summary.splits.train.examples} train / ${summary.splits.validation.examples} validation lines (${summary.dropped.duplicates} duplicates dropped)`);

  const tok = args.model
    ? await Tokenizer.fromPretrained(args.model)
    : await trainWordPiece({ files: [path.join(corpusDir, 'train.txt')], vocabSize: 2000, minFrequency: 3 });
  if (!args.model) await tok.save(path.join(out, 'tokenizer'));
  say(`tokenizer: ${tok.vocabSize} WordPiece tokens`);

  const runs: ReportRun[] = [];
  const pretrained = await pretrain(tok, corpusDir, runs);
  const trainEx = await toExamples(tok, train, labels);
  const testEx = await toExamples(tok, test, labels);
  say(`fine-tuning on ${train.length} labeled messages for ${epochs} epochs, testing on ${test.length}`);
  const withPt = await finetune('fine-tuned from pretrained', 'finetune-pretrained', pretrained, tok, trainEx, testEx, labels, runs);
  const control = await finetune('fine-tuned from random init (control)', 'finetune-control', undefined, tok, trainEx, testEx, labels, runs);

  for (const r of [withPt, control]) {
    console.log(`\n== ${r.name} (test loss ${r.loss?.toFixed(4)}) ==\n${formatClassificationReport(r.report, 3)}`);
  }
  const gain = { accuracy: withPt.accuracy - control.accuracy, macroF1: withPt.macroF1 - control.macroF1 };
  const line = (n: string, a: number, b: number, g: number) => `${n.padEnd(10)} ${a.toFixed(3)}  ${b.toFixed(3)}  ${(g >= 0 ? '+' : '') + g.toFixed(3)}`;
  console.log(`\n           pretrained  control  gain\n${line('accuracy', withPt.accuracy, control.accuracy, gain.accuracy)}\n${line('macro F1', withPt.macroF1, control.macroF1, gain.macroF1)}`);

  const report = path.join(out, 'report.html');
  await writeReport(report, {
    title: 'bertorch: does MLM pretraining help intent classification?',
    notes: [
      `${train.length} labeled training messages; ${test.length} test messages whose wordings (paraphrases and synonyms) never appear in the labeled set, ` +
      'only in the unlabeled corpus the encoder was pretrained on. Both classifiers share architecture, fine-tuning hyperparameters, steps and seed; ' +
      'one starts from the MLM-pretrained encoder, the other from random weights. The test set is evaluated each epoch only to draw the curves: ' +
      'the reported numbers are those of the final models, with no selection on the test set.',
    ],
    summary: {
      'accuracy (pretrained)': withPt.accuracy, 'accuracy (control)': control.accuracy, 'accuracy gain': gain.accuracy,
      'macro F1 (pretrained)': withPt.macroF1, 'macro F1 (control)': control.macroF1, 'macro F1 gain': gain.macroF1,
      'total runtime': elapsed(),
    },
    runs,
    evaluations: [withPt, control],
    config: { seed, maxLength, pretrainSteps, epochs, architecture: ARCH, vocabSize: tok.vocabSize, corpus: summary.splits, labels },
  });
  await writeFile(path.join(out, 'results.json'), JSON.stringify({ seed, pretrained: { accuracy: withPt.accuracy, macroF1: withPt.macroF1 }, control: { accuracy: control.accuracy, macroF1: control.macroF1 }, gain, seconds: (performance.now() - t0) / 1000 }, null, 2) + '\n');
  say(`report -> ${report}`);
}

await main();
