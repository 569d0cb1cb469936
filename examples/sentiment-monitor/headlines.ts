/**
 * Generated financial news for the sentiment-monitor example, its test and
 * its benchmark: headlines about five made-up companies in three moods, a
 * timestamped stream where one company's mood turns at a known time, and a
 * tiny sentiment classifier fine-tuned on labeled headlines (seconds on a CPU).
 * Everything is a function of the seed.
 */
import { mkdir } from 'node:fs/promises';
import {
  BertForSequenceClassification, DataLoader, Trainer, classificationCollator, trainWordPiece,
  type ClassificationExample,
} from '../../lib/index.js';
import { Rng } from '../../lib/synth/rng.js';

export const LABELS = ['negative', 'neutral', 'positive'] as const;
export type Mood = (typeof LABELS)[number];

/** Companies: a name, a ticker, and the keywords that find them. */
export const COMPANIES = [
  { name: 'Acme', ticker: 'ACME', keywords: ['acme', '$ACME'] },
  { name: 'Globex', ticker: 'GLBX', keywords: ['globex', '$GLBX'] },
  { name: 'Initech', ticker: 'INIT', keywords: ['initech', '$INIT'] },
  { name: 'Hooli', ticker: 'HOOL', keywords: ['hooli', '$HOOL'] },
  { name: 'Umbrella', ticker: 'UMBR', keywords: ['umbrella', '$UMBR'] },
] as const;

/** Topic keyword lists for SentimentMonitor / `bertorch monitor --topics`. */
export const TOPICS: Record<string, string[]> = Object.fromEntries(COMPANIES.map((c) => [c.ticker, [...c.keywords]]));

const TEMPLATES: Record<Mood, string[]> = {
  positive: [
    '{co} shares jump after strong quarterly earnings', '{co} beats estimates and raises full year guidance',
    'analysts upgrade {co} on record {thing}', '{co} stock rallies as {thing} surge', '{co} wins major contract, shares climb',
    'investors cheer {co} after upbeat outlook', '{co} posts record profit on booming {thing}', 'strong demand lifts {co} to a new high',
    '{t} soars after {co} announces buyback', 'great quarter for {co} as {thing} grow fast',
  ],
  negative: [
    '{co} shares plunge after profit warning', '{co} misses estimates and cuts its outlook', 'regulators probe {co} over accounting errors',
    '{co} stock slumps as {thing} collapse', '{co} recalls products, shares tumble', 'investors flee {co} after weak guidance',
    '{co} posts heavy loss on falling {thing}', 'downgrade sends {co} to a new low', '{t} sinks after {co} lawsuit', 'terrible quarter for {co} as {thing} shrink',
  ],
  neutral: [
    '{co} to hold annual meeting on {day}', '{co} names new board member', '{co} will report results on {day}',
    '{co} moves headquarters to a new office', '{t} trading volume in line with average', '{co} publishes its annual report',
    '{co} confirms date of investor day', '{co} renames its cloud division', 'what to watch at {co} this {day}', '{co} hires a new chief financial officer',
  ],
};
const THINGS = ['sales', 'orders', 'margins', 'subscriptions', 'bookings', 'revenues', 'deliveries'];
const DAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday'];

/** One headline about `company` in `mood`. */
export function headline(rng: Rng, company: (typeof COMPANIES)[number], mood: Mood): string {
  return rng.pick(TEMPLATES[mood])
    .replace('{co}', rng.chance(0.2) ? `${company.name} Corp` : company.name)
    .replace('{t}', `$${company.ticker}`)
    .replace('{thing}', rng.pick(THINGS))
    .replace('{day}', rng.pick(DAYS));
}

/** Labeled headlines for fine-tuning (label ids index {@link LABELS}). */
export function labeledHeadlines(n: number, seed = 1): ClassificationExample[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, (_, i) => {
    const label = i % 3;
    return { text: headline(rng, rng.pick(COMPANIES), LABELS[label]), label };
  });
}

/** Mood probabilities of a company. */
export type MoodMix = Record<Mood, number>;
export const CALM: MoodMix = { positive: 0.45, neutral: 0.35, negative: 0.2 };
export const GLOOM: MoodMix = { positive: 0.1, neutral: 0.3, negative: 0.6 };

export interface StreamOptions {
  seed?: number;
  /** Event time of the first record (ms). @default 2024-01-01T00:00Z */
  start?: number;
  /** Records in all. */
  records: number;
  /** Mean ms between records (all companies together). @default 12000 (300 an hour) */
  gapMs?: number;
  /** Share of records sent late by up to `jitterMs` (out of order). @default 0.05 */
  lateShare?: number;
  /** @default 120000 */
  jitterMs?: number;
  /** From `at` (ms) on, `ticker`'s mood mix is `to` instead of CALM. */
  turn?: { ticker: string; at: number; to: MoodMix };
  /** Share of lines that are not records (a bad record every so often). @default 0 */
  malformedShare?: number;
}

/** A record of the generated stream. */
export interface NewsRecord {
  time: number;
  text: string;
  ticker: string;
}

function drawMood(rng: Rng, mix: MoodMix): Mood {
  const u = rng.next();
  return u < mix.positive ? 'positive' : u < mix.positive + mix.neutral ? 'neutral' : 'negative';
}

/** The stream, as records in arrival order (a few slightly out of event-time order). */
export function* newsStream(o: StreamOptions): Generator<NewsRecord> {
  const rng = new Rng(o.seed ?? 7);
  const gap = o.gapMs ?? 12_000;
  const late = o.lateShare ?? 0.05;
  const jitter = o.jitterMs ?? 120_000;
  let t = o.start ?? Date.UTC(2024, 0, 1);
  for (let i = 0; i < o.records; i++) {
    t += Math.round(gap * (0.5 + rng.next()));
    const company = rng.pick(COMPANIES);
    const mix = o.turn && company.ticker === o.turn.ticker && t >= o.turn.at ? o.turn.to : CALM;
    const time = rng.chance(late) ? t - Math.round(rng.next() * jitter) : t;
    yield { time, text: headline(rng, company, drawMood(rng, mix)), ticker: company.ticker };
  }
}

/** The stream as JSONL lines; with malformedShare, some lines are broken JSON or records without a time. */
export function* newsJsonl(o: StreamOptions): Generator<string> {
  const rng = new Rng((o.seed ?? 7) + 1);
  for (const r of newsStream(o)) {
    if (o.malformedShare && rng.chance(o.malformedShare)) {
      yield rng.chance(0.5) ? `{"time": ${r.time}, "text": "${r.text}"` : JSON.stringify({ text: r.text, ticker: r.ticker });
      continue;
    }
    yield JSON.stringify(r);
  }
}

/**
 * Fine-tunes a tiny BERT sentiment classifier (negative / neutral / positive)
 * on generated headlines and saves it with its tokenizer into `dir`.
 * Returns its accuracy on held-out headlines.
 */
export async function trainSentimentModel(dir: string, { seed = 1, examples = 600, epochs = 3, quiet = true } = {}): Promise<number> {
  const train = labeledHeadlines(examples, seed);
  const test = labeledHeadlines(150, seed + 100);
  const tokenizer = await trainWordPiece({ iterator: train.map((e) => e.text), vocabSize: 400, minFrequency: 1 });
  const model = BertForSequenceClassification.create({
    vocab_size: tokenizer.vocabSize, hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 64,
    max_position_embeddings: 64, id2label: Object.fromEntries(LABELS.map((l, i) => [String(i), l])),
    label2id: Object.fromEntries(LABELS.map((l, i) => [l, i])),
  }, { seed });
  try {
    const collate = classificationCollator(tokenizer, { maxLength: 32 });
    const asSet = (xs: ClassificationExample[]) => ({ length: xs.length, get: (i: number) => xs[i] });
    const loader = new DataLoader(asSet(train), { batchSize: 16, shuffle: true, seed, collate });
    const trainer = new Trainer(model, { epochs, lr: 3e-3, warmupRatio: 0.1, seed, progress: quiet ? 'none' : 'auto', saveAtEnd: false });
    await trainer.fit(loader);
    const metrics = await trainer.evaluate(new DataLoader(asSet(test), { batchSize: 64, collate }));
    await mkdir(dir, { recursive: true });
    await model.savePretrained(dir);
    await tokenizer.save(dir);
    return metrics.eval_accuracy;
  } finally {
    model.dispose();
  }
}
