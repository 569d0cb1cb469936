/**
 * A seeded generator of customer-service messages: an unlabeled stream (for
 * MLM pretraining) and labeled examples (intent label + word-level BIO entity
 * tags, for sequence and token classification). Everything is a function of
 * the seed. The labeled train split draws only from each intent's first
 * `seenPhrases` paraphrases, the test split only from the others, so a model
 * must generalise to wordings it was never given labels for; the unlabeled
 * stream uses all of them, often two of the same intent in one message.
 */
import { invalidRange } from '../errors.js';
import { applyCasing, pickCasing, typo } from './noise.js';
import { CLOSERS, CONNECTORS, FILLERS, FRAMES, INTENTS, OPENERS, REQUEST_PREFIXES, type IntentSpec } from './intents.js';
import { Rng } from './rng.js';
import { SLOT_TYPES, slotValue, type EntityType } from './slots.js';

export interface SynthOptions {
  /** @default 0 */
  seed?: number;
  /** Paraphrases per intent the labeled train split may use. @default 3 */
  seenPhrases?: number;
  /** Synonymous verbs and nouns per intent the labeled train split may use. @default 2 */
  seenWords?: number;
  /** Chance that a message says its intent in a shared frame with the intent's verb and noun. @default 0.9 */
  frameRate?: number;
  /** Chance that a non-entity word of 4+ letters gets a typo. @default 0.02 */
  typoRate?: number;
  /** Chance of a filler word ("um", "basically") before a word. @default 0.03 */
  fillerRate?: number;
  /** Chance that an unlabeled message states its intent once more in another wording (up to 3 times). @default 0.95 */
  repeatRate?: number;
  /** Chance that an unlabeled line is a conversation: the message, then an agent's reply. @default 0.2 */
  replyRate?: number;
  /** Vary casing (lower, sentence, title, upper). @default true */
  casing?: boolean;
}

/** An entity span in a message's text (UTF-16 offsets, end exclusive). */
export interface SynthEntity {
  type: EntityType;
  start: number;
  end: number;
  text: string;
}

/** A labeled message. `tokens` are words and punctuation; `tags` their BIO tags. */
export interface LabeledMessage {
  text: string;
  intent: string;
  /** Index of the intent in {@link INTENT_NAMES}. */
  label: number;
  tokens: string[];
  tags: string[];
  entities: SynthEntity[];
}

export type Split = 'train' | 'test' | 'all';

/** The intent names, in label order. */
export const INTENT_NAMES: readonly string[] = INTENTS.map((i) => i.name);

/** BIO tag names, in label order: O, then B-/I- for each entity type. */
export function bioLabels(): string[] {
  return ['O', ...Object.values(SLOT_TYPES).flatMap((t) => [`B-${t}`, `I-${t}`])];
}

interface Word { text: string; tag: string }

function splitOf<T>(xs: readonly T[], seen: number, split: Split): readonly T[] {
  return split === 'train' ? xs.slice(0, seen) : split === 'test' ? xs.slice(seen) : xs;
}

const PUNCT = /^[.,!?]$/;
const QUESTION = /^(where|when|why|what|how|is|has|can|do|does|could|will)\b/;

/**
 * Customer-service messages from a seed.
 * @example
 * const gen = new CustomerServiceGenerator({ seed: 1 });
 * const train = gen.labeled({ perIntent: 30, split: 'train' });
 * for (const line of gen.unlabeled(1000)) console.log(line);
 */
export class CustomerServiceGenerator {
  readonly options: Required<SynthOptions>;
  readonly intents: readonly IntentSpec[] = INTENTS;
  #rng: Rng;

  constructor(o: SynthOptions = {}) {
    this.options = { seed: 0, seenPhrases: 3, seenWords: 2, frameRate: 0.9, typoRate: 0.02, fillerRate: 0.03, repeatRate: 0.95, replyRate: 0.2, casing: true, ...o };
    const { seed, seenPhrases, seenWords, frameRate, typoRate, fillerRate, repeatRate, replyRate } = this.options;
    if (!Number.isSafeInteger(seed)) invalidRange('an integer', 'seed', seed);
    const minPhrases = Math.min(...INTENTS.map((i) => i.phrases.length));
    if (!Number.isInteger(seenPhrases) || seenPhrases < 1 || seenPhrases >= minPhrases) invalidRange(`an integer in [1, ${minPhrases - 1}]`, 'seenPhrases', seenPhrases);
    const minWords = Math.min(...INTENTS.flatMap((i) => [i.verbs.length, i.nouns.length]));
    if (!Number.isInteger(seenWords) || seenWords < 1 || seenWords >= minWords) invalidRange(`an integer in [1, ${minWords - 1}]`, 'seenWords', seenWords);
    for (const [k, v] of Object.entries({ frameRate, typoRate, fillerRate, repeatRate, replyRate })) if (!(v >= 0 && v <= 1)) invalidRange('a probability in [0, 1]', k, v);
    this.#rng = new Rng(seed);
  }

  /** The paraphrases of an intent a split may use. */
  phrases(intent: IntentSpec, split: Split): readonly string[] {
    return splitOf(intent.phrases, this.options.seenPhrases, split);
  }

  /** The verbs and nouns of an intent a split may use in the shared frames. */
  words(intent: IntentSpec, split: Split): { verbs: readonly string[]; nouns: readonly string[] } {
    const k = this.options.seenWords;
    return { verbs: splitOf(intent.verbs, k, split), nouns: splitOf(intent.nouns, k, split) };
  }

  // One statement of the intent: a shared frame with the intent's words, or one of its paraphrases.
  #statement(intent: IntentSpec, split: Split, avoid?: string): string {
    const rng = this.#rng;
    if (rng.chance(this.options.frameRate)) {
      const { verbs, nouns } = this.words(intent, split);
      return rng.pick(FRAMES).replace('{v}', rng.pick(verbs)).replace('{n}', rng.pick(nouns));
    }
    const pool = this.phrases(intent, split);
    let p = rng.pick(pool);
    for (let i = 0; i < 3 && p === avoid; i++) p = rng.pick(pool);
    return p;
  }

  /** One labeled message of intent `label` (an index) stating it `statements` times, drawn from `split`'s wordings. */
  message(label: number, split: Split = 'all', statements = 1): LabeledMessage {
    const rng = this.#rng;
    const intent = this.intents[label];
    const words: Word[] = [];
    const opener = rng.pick(OPENERS);
    if (opener) {
      this.#push(words, opener);
      words.push({ text: rng.pick([',', '.', '!', ',']), tag: 'O' });
    }
    let last = this.#statement(intent, split);
    this.#phrase(words, last);
    for (let i = 1; i < statements; i++) {
      this.#push(words, rng.pick(CONNECTORS));
      last = this.#statement(intent, split, last);
      this.#phrase(words, last);
    }
    const closer = rng.pick(CLOSERS);
    if (closer) {
      if (rng.chance(0.6)) words.push({ text: rng.pick([',', '.']), tag: 'O' });
      this.#push(words, closer);
    }
    if (rng.chance(0.6)) words.push({ text: rng.pick(['.', '!', '.']), tag: 'O' });
    return this.#finish(words, intent.name, label);
  }

  /** `perIntent` messages of every intent from `split`'s paraphrases, shuffled. */
  labeled({ perIntent, split }: { perIntent: number; split: Split }): LabeledMessage[] {
    if (!Number.isInteger(perIntent) || perIntent < 1) invalidRange('a positive integer', 'perIntent', perIntent);
    const out: LabeledMessage[] = [];
    for (let label = 0; label < this.intents.length; label++)
      for (let i = 0; i < perIntent; i++) out.push(this.message(label, split));
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.#rng.int(0, i);
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }

  /**
   * `n` unlabeled lines (text only) over all intents and paraphrases: a
   * message, sometimes followed by an agent's reply (a support log).
   */
  *unlabeled(n: number): Generator<string> {
    if (!Number.isInteger(n) || n < 0) invalidRange('a non-negative integer', 'n', n);
    const rng = this.#rng;
    for (let i = 0; i < n; i++) {
      const label = rng.int(0, this.intents.length - 1);
      let statements = 1;
      while (statements < 3 && rng.chance(this.options.repeatRate)) statements++;
      const text = this.message(label, 'all', statements).text;
      yield rng.chance(this.options.replyRate) ? `${text} ${this.#reply(label)}` : text;
    }
  }

  #reply(label: number): string {
    const rng = this.#rng;
    const words = [...rng.pick(['', '', 'thanks for reaching out.', 'sure!', 'no problem.', 'i understand.'] as const).split(' ').filter(Boolean),
      ...rng.pick(this.intents[label].replies).split(' ')];
    if (this.options.casing && rng.chance(0.4)) words[0] = words[0].charAt(0).toUpperCase() + words[0].slice(1);
    return `${words.join(' ')}.`;
  }

  // A verb phrase gets a request prefix; a question gets a question mark.
  #phrase(words: Word[], phrase: string): void {
    const rng = this.#rng;
    let p = phrase;
    if (p.startsWith('~')) p = `${rng.pick(REQUEST_PREFIXES)} ${p.slice(1)}`;
    this.#push(words, p);
    if (QUESTION.test(p) && rng.chance(0.7)) words.push({ text: '?', tag: 'O' });
  }

  // Splits text into words, expands {slots} into tagged words, adds noise.
  #push(words: Word[], text: string): void {
    const rng = this.#rng;
    const { typoRate, fillerRate } = this.options;
    for (const raw of text.split(/\s+/).filter(Boolean)) {
      const m = /^\{(\w+)\}(,?)$/.exec(raw);
      if (m) {
        const type = SLOT_TYPES[m[1]];
        slotValue(m[1], rng).split(' ').forEach((w, i) => words.push({ text: w, tag: `${i ? 'I' : 'B'}-${type}` }));
        if (m[2]) words.push({ text: ',', tag: 'O' });
        continue;
      }
      if (PUNCT.test(raw)) {
        words.push({ text: raw, tag: 'O' });
        continue;
      }
      const comma = raw.endsWith(',');
      const w = comma ? raw.slice(0, -1) : raw;
      if (rng.chance(fillerRate)) words.push({ text: rng.pick(FILLERS), tag: 'O' });
      words.push({ text: rng.chance(typoRate) ? typo(w, rng) : w, tag: 'O' });
      if (comma) words.push({ text: ',', tag: 'O' });
    }
  }

  #finish(words: Word[], intent: string, label: number): LabeledMessage {
    // No punctuation twice in a row, none first.
    const kept = words.filter((w, i) => !(PUNCT.test(w.text) && (i === 0 || PUNCT.test(words[i - 1].text))));
    const tokens = kept.map((w) => w.text);
    if (this.options.casing) applyCasing(tokens, pickCasing(this.#rng), this.#rng);
    let text = '';
    const starts: number[] = [];
    tokens.forEach((t, i) => {
      if (i > 0 && !PUNCT.test(t)) text += ' ';
      starts.push(text.length);
      text += t;
    });
    const tags = kept.map((w) => w.tag);
    const entities: SynthEntity[] = [];
    tags.forEach((tag, i) => {
      if (tag.startsWith('B-')) entities.push({ type: tag.slice(2) as EntityType, start: starts[i], end: starts[i] + tokens[i].length, text: '' });
      else if (tag.startsWith('I-')) entities[entities.length - 1].end = starts[i] + tokens[i].length;
    });
    for (const e of entities) e.text = text.slice(e.start, e.end);
    return { text, intent, label, tokens, tags, entities };
  }
}
