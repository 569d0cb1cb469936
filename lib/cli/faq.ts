// bertorch faq build | ask | calibrate: a FAQ folder (KB entries, question
// index, threshold, the model's path) from a CSV / TSV / JSONL knowledge base;
// answers with the out-of-scope verdict; a threshold for a target precision.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { FaqAnswerer } from '../faq/index.js';
import { mustExist, say, type Command, type Io } from './command.js';
import { ENCODER, loadEncoder, readTexts } from './embed.js';
import { COMMON, i, n, s, type Values } from './options.js';

export const faqBuildCommand: Command = {
  summary: 'Builds a FAQ folder from a knowledge base (question, answer[, intent, id]).',
  usage: 'bertorch faq build --model <dir> --kb <file> --out <dir> [options]',
  options: {
    ...ENCODER,
    kb: s('knowledge base: .csv / .tsv (header question,answer[,intent,id]) or .jsonl', { required: true }),
    out: s('FAQ folder to write', { required: true }),
    index: s('question index', { default: 'exact', choices: ['exact', 'hnsw'] }),
    threshold: n('best scores under this are out of scope (calibrate sets it)', 0),
    ...COMMON,
  },
  run: build,
};

export const faqAskCommand: Command = {
  summary: 'Answers questions from a FAQ folder (JSONL out, with the out-of-scope verdict).',
  usage: 'bertorch faq ask --faq <dir> (--query <text> | --input <file>) [--k 3]',
  options: {
    faq: s('FAQ folder written by faq build', { required: true }),
    model: s('encoder folder (default: the one faq build used)'),
    query: s('one question'),
    input: s('questions: .txt lines, .jsonl / .csv / .tsv rows (--text-column), or -'),
    'text-column': s('JSONL field or CSV/TSV column of the question', { default: 'query' }),
    k: i('answers per question', 3),
    ...COMMON,
  },
  run: ask,
};

export const faqCalibrateCommand: Command = {
  summary: 'Chooses the out-of-scope threshold for a target precision on held-out questions.',
  usage: 'bertorch faq calibrate --faq <dir> --held-out <file> [--target-precision 0.9]',
  options: {
    faq: s('FAQ folder written by faq build (its threshold is updated)', { required: true }),
    model: s('encoder folder (default: the one faq build used)'),
    'held-out': s('.csv / .tsv / .jsonl with query and id or intent (or out_of_scope=1)', { required: true }),
    'target-precision': n('precision of the answered questions to reach', 0.9),
    ...COMMON,
  },
  run: calibrate,
};

async function build(v: Values, io: Io): Promise<number> {
  await mustExist(v.kb, '--kb');
  const encoder = await loadEncoder(v);
  try {
    const faq = await FaqAnswerer.build(v.kb, encoder, { index: v.index, threshold: v.threshold });
    await faq.save(v.out, { model: path.resolve(v.model), pooling: encoder.pooling, normalize: encoder.normalize, kb: path.resolve(v.kb) });
    await faq.close();
    io.stdout.write(JSON.stringify({ command: 'faq build', out: v.out, entries: faq.entries.length, intents: new Set(faq.entries.map((e) => e.intent).filter(Boolean)).size, index: v.index, threshold: faq.threshold }) + '\n');
    return 0;
  } finally {
    await encoder.close();
  }
}

async function open(v: Values): Promise<{ faq: FaqAnswerer; close: () => Promise<void>; meta: Record<string, unknown> }> {
  await mustExist(v.faq, '--faq');
  const meta = JSON.parse(await readFile(path.join(v.faq, 'faq.json'), 'utf8')) as Record<string, unknown>;
  const model = (v.model ?? meta.model) as string;
  const encoder = await loadEncoder({ ...v, model, pooling: meta.pooling ?? 'auto', normalize: 'auto', batchSize: 32 });
  const faq = await FaqAnswerer.load(v.faq, encoder);
  return { faq, meta, close: async () => { await faq.close(); await encoder.close(); } };
}

async function ask(v: Values, io: Io): Promise<number> {
  if ((v.query === undefined) === (v.input === undefined)) throw new Error('give --query <text> or --input <file>, one of them');
  await mustExist(v.input, '--input');
  const queries = v.query !== undefined ? [v.query] : await readTexts(v.input, v.textColumn, io);
  const { faq, close } = await open(v);
  try {
    const answers = await Promise.all(queries.map((q) => faq.answer(q, { k: v.k })));
    for (const a of answers) io.stdout.write(JSON.stringify(a) + '\n');
    say(io, v, `${answers.filter((a) => a.outOfScope).length} of ${answers.length} out of scope (threshold ${faq.threshold.toFixed(4)})`);
    return 0;
  } finally {
    await close();
  }
}

async function calibrate(v: Values, io: Io): Promise<number> {
  await mustExist(v.heldOut, '--held-out');
  const { faq, close, meta } = await open(v);
  try {
    const c = await faq.calibrate(v.heldOut, { targetPrecision: v.targetPrecision });
    await faq.save(v.faq, meta);
    io.stdout.write(JSON.stringify({ command: 'faq calibrate', faq: v.faq, ...c }) + '\n');
    if (!c.reached) say(io, v, `target precision ${v.targetPrecision} not reached: kept the threshold of the best precision (${c.precision.toFixed(3)})`);
    return 0;
  } finally {
    await close();
  }
}
