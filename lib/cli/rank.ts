// bertorch rank train | evaluate | score: a cross-encoder fine-tuned on click
// logs (context, item, clicked 0/1 in JSONL/CSV/TSV), its ranking metrics
// grouped by context, and candidates ranked per context.

import { createReadStream } from 'node:fs';
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { ClassificationDataset } from '../data/index.js';
import { PRESETS } from '../models/index.js';
import { bm25Scores, CrossEncoderRanker, evaluateRanking, type Click } from '../rank/index.js';
import { trainWordPiece } from '../tokenizer.js';
import { mustExist, say, type Command, type Io } from './command.js';
import { BAD_ROWS, COMMON, i, s, TRAINING, UsageError, type Opts, type Values } from './options.js';
import { trainerOptions } from './training.js';

const CLICK_DATA: Opts = {
  'context-column': s('column or JSONL field of the context (query, user history)', { default: 'context' }),
  'item-column': s('column or field of the item', { default: 'item' }),
  'label-column': s('column or field of the click: 1 clicked, 0 shown and not clicked', { default: 'clicked' }),
  ks: { kind: 'list', help: 'cut-offs for nDCG@k and recall@k', default: ['1', '5', '10'] },
  ...BAD_ROWS,
};

/** A click log file through the strict labeled-data reader (clicked must be 0 or 1). */
async function readClicks(file: string, v: Values, io: Io): Promise<Click[]> {
  const data = await ClassificationDataset.fromFile(file, {
    textColumn: v.contextColumn, textPairColumn: v.itemColumn, labelColumn: v.labelColumn, labels: ['0', '1'], onBadRow: v.onBadRow,
  });
  if (data.skippedRows.length) {
    say(io, v, `skipped ${data.skippedRows.length} bad row(s) of ${file}:`);
    for (const r of data.skippedRows.slice(0, 20)) say(io, v, `  ${file}:${r.line}: ${r.message} (${r.reason})`);
  }
  return Array.from({ length: data.length }, (_, k) => {
    const e = data.get(k);
    return { context: e.text, item: e.pair!, clicked: e.label as number };
  });
}

function ks(v: Values): number[] {
  return (v.ks as string[]).map((k) => {
    const n = Number(k);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`Expected positive integers for --ks but received ${JSON.stringify(k)}`);
    return n;
  });
}

const round = (m: Record<string, number>) => Object.fromEntries(Object.entries(m).map(([k, x]) => [k, Number.isFinite(x) ? Number(x.toFixed(6)) : x]));

export const rankTrainCommand: Command = {
  summary: 'Fine-tunes a cross-encoder ranker on click logs (context, item, clicked).',
  usage: 'bertorch rank train --train <clicks> [--eval <clicks>] [--model <pretrained dir>] --out <dir> [options]',
  options: {
    train: s('click log for training (JSONL, CSV or TSV)', { required: true }),
    eval: s('click log to evaluate on (ranking metrics per context)'),
    out: s('output folder: the ranker as an HF folder + tokenizer', { required: true }),
    model: s('pretrained HF folder with tokenizer files (without it: a new --preset model and a tokenizer trained on --train)'),
    preset: s('model size without --model', { default: 'mini', choices: Object.keys(PRESETS) }),
    'vocab-size': i('tokenizer vocabulary without --model', 8000),
    ...CLICK_DATA,
    ...TRAINING,
    ...COMMON,
  },
  run: rankTrain,
};

async function rankTrain(v: Values, io: Io): Promise<number> {
  for (const [flag, file] of [['--train', v.train], ['--eval', v.eval], ['--model', v.model]]) await mustExist(file, flag);
  const cuts = ks(v);
  const train = await readClicks(v.train, v, io);
  const evalClicks = v.eval ? await readClicks(v.eval, v, io) : undefined;
  if (train.length === 0) throw new Error(`no clicks in ${v.train}`);
  const ranker = v.model
    ? await CrossEncoderRanker.create(v.model, { maxLength: v.maxLength, batchSize: v.evalBatchSize, seed: v.seed })
    : await CrossEncoderRanker.create(
      await trainWordPiece({ iterator: [...new Set(train.flatMap((c) => [c.context, c.item]))], vocabSize: v.vocabSize, minFrequency: 1 }),
      { config: { ...PRESETS[v.preset as keyof typeof PRESETS], max_position_embeddings: Math.max(512, v.maxLength) }, maxLength: v.maxLength, batchSize: v.evalBatchSize, seed: v.seed });
  try {
    if (v.device !== 'cpu') ranker.model.to(v.device);
    const positives = train.filter((c) => c.clicked === 1).length;
    say(io, v, `fine-tuning a cross-encoder ranker: ${train.length} pairs (${positives} clicked) over ${new Set(train.map((c) => c.context)).size} contexts, ${(ranker.model.numParameters / 1e6).toFixed(2)}M parameters`);
    const opts = trainerOptions(v, v.out, ranker.tokenizer, false);
    const r = await ranker.train(train, { ...opts, batchSize: v.batchSize });
    const metrics = evalClicks ? round(await ranker.evaluate(evalClicks, { ks: cuts }) as unknown as Record<string, number>) : {};
    await ranker.save(v.out);
    io.stdout.write(JSON.stringify({ command: 'rank train', out: v.out, steps: r.globalStep, trainLoss: r.trainLoss, stopReason: r.stopReason, ...metrics }) + '\n');
    say(io, v, `saved the ranker to ${v.out}`);
    return 0;
  } finally {
    ranker.dispose();
  }
}

export const rankEvaluateCommand: Command = {
  summary: 'Ranking metrics (AUC, MRR, nDCG@k, recall@k per context) of a ranker on a click log.',
  usage: 'bertorch rank evaluate --model <dir> --data <clicks> [options]',
  options: {
    model: s('ranker folder (from bertorch rank train)', { required: true }),
    data: s('click log (JSONL, CSV or TSV)', { required: true }),
    baseline: s('also score with a baseline, side by side', { default: 'none', choices: ['none', 'bm25'] }),
    'batch-size': i('pairs per forward pass', 64),
    'max-length': i('tokens per pair', 128),
    ...CLICK_DATA,
    ...COMMON,
  },
  run: rankEvaluate,
};

async function rankEvaluate(v: Values, io: Io): Promise<number> {
  await mustExist(v.model, '--model');
  await mustExist(v.data, '--data');
  const cuts = ks(v);
  const clicks = await readClicks(v.data, v, io);
  const ranker = await CrossEncoderRanker.fromPretrained(v.model, { batchSize: v.batchSize, maxLength: v.maxLength });
  try {
    if (v.device !== 'cpu') ranker.model.to(v.device);
    io.stdout.write(JSON.stringify({ scorer: 'ranker', data: v.data, pairs: clicks.length, ...round(await ranker.evaluate(clicks, { ks: cuts }) as unknown as Record<string, number>) }) + '\n');
    if (v.baseline === 'bm25') {
      const scores = bm25Scores(clicks.map((c) => [c.context, c.item] as const));
      const m = evaluateRanking(clicks.map((c, k) => ({ group: c.context, label: Number(c.clicked), score: scores[k] })), { ks: cuts });
      io.stdout.write(JSON.stringify({ scorer: 'bm25', data: v.data, pairs: clicks.length, ...round(m as unknown as Record<string, number>) }) + '\n');
    }
    return 0;
  } finally {
    ranker.dispose();
  }
}

export const rankScoreCommand: Command = {
  summary: 'Ranks candidates per context: JSONL {"context", "candidates": [...]} in, ranked JSONL out.',
  usage: 'bertorch rank score --model <dir> [--input <file>|-] [--output <file>] [--top-k <n>] [options]',
  options: {
    model: s('ranker folder (from bertorch rank train)', { required: true }),
    input: s('JSONL, one {"context": ..., "candidates": [...]} a line; - or none reads stdin', { default: '-' }),
    output: s('output JSONL; - or none writes stdout', { default: '-' }),
    'context-column': s('field of the context', { default: 'context' }),
    'candidates-field': s('field of the candidate list', { default: 'candidates' }),
    'top-k': i('keep the best k candidates (default all)'),
    'batch-size': i('pairs per forward pass', 64),
    'max-length': i('tokens per pair', 128),
    ...COMMON,
  },
  run: rankScore,
};

async function rankScore(v: Values, io: Io): Promise<number> {
  await mustExist(v.model, '--model');
  await mustExist(v.input, '--input');
  const ranker = await CrossEncoderRanker.fromPretrained(v.model, { batchSize: v.batchSize, maxLength: v.maxLength });
  let file: FileHandle | undefined;
  const where = v.input === '-' ? 'stdin' : v.input;
  try {
    if (v.device !== 'cpu') ranker.model.to(v.device);
    if (v.output !== '-') {
      await mkdir(path.dirname(path.resolve(v.output)), { recursive: true });
      file = await open(v.output, 'w');
    }
    const write = async (line: string) => { if (file) await file.write(line); else if (!io.stdout.write(line)) await new Promise((r) => io.stdout.once('drain', r)); };
    const lines = createInterface({ input: v.input === '-' ? io.stdin : createReadStream(v.input), crlfDelay: Infinity });
    let n = 0;
    let count = 0;
    for await (const text of lines) {
      n++;
      if (text.trim() === '') continue;
      let obj: Record<string, unknown>;
      try { obj = JSON.parse(text); } catch (e) { throw new Error(`${where}:${n}: not JSON (${(e as Error).message})`); }
      const context = obj?.[v.contextColumn];
      const candidates = obj?.[v.candidatesField];
      if (typeof context !== 'string') throw new Error(`${where}:${n}: no string field "${v.contextColumn}"`);
      if (!Array.isArray(candidates) || !candidates.every((c) => typeof c === 'string')) throw new Error(`${where}:${n}: "${v.candidatesField}" is not an array of strings`);
      const ranked = await ranker.rank(context, candidates as string[], { topK: v.topK === undefined ? undefined : Math.min(v.topK, candidates.length) || undefined });
      await write(JSON.stringify({ context, ranked: ranked.map((r) => ({ item: r.item, index: r.index, score: Number(r.score.toFixed(6)) })) }) + '\n');
      count++;
    }
    say(io, v, `ranked the candidates of ${count} contexts${v.output !== '-' ? ` -> ${v.output}` : ''}`);
    return 0;
  } finally {
    await file?.close();
    ranker.dispose();
  }
}
