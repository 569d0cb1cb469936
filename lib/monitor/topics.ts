/**
 * Which topics a record is about: keyword / ticker lists matched as whole
 * words (case-insensitive; "$ACME" and "#acme" match the keyword "acme" and
 * the ticker "$ACME"; a keyword of several words matches as a phrase), or the
 * value of a record field (a string or an array of strings). Pure TypeScript.
 */
import { typeError } from '../validate.js';

/** Topics as keyword lists (`{ ACME: ['acme', '$ACME', 'acme corp'] }`) or the name of a record field holding the topic. */
export type TopicSpec = Record<string, readonly string[]> | { field: string };

// Words of a text: letters and digits, with inner apostrophes, dots, ampersands and hyphens; a leading $ or # is dropped.
const WORD = /[$#]?([\p{L}\p{N}]+(?:['’.&-][\p{L}\p{N}]+)*)/gu;

/** The words of a text, lower-cased, as the matcher sees them. */
export function words(text: string): string[] {
  const out: string[] = [];
  for (const m of text.toLowerCase().matchAll(WORD)) out.push(m[1]);
  return out;
}

/** Matches records to topics. */
export class TopicMatcher {
  readonly field: string | undefined;
  /** The topic names of a keyword spec, in the order given (empty for a field spec). */
  readonly names: readonly string[];
  // First word of a keyword -> the keywords (as word lists) starting with it and their topic.
  readonly #byFirst = new Map<string, Array<{ words: string[]; topic: string }>>();

  constructor(spec: TopicSpec) {
    if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) throw typeError('a { topic: keywords[] } object or { field }', 'topics', spec);
    if ('field' in spec && typeof spec.field === 'string') {
      this.field = spec.field;
      this.names = [];
      return;
    }
    const names: string[] = [];
    for (const [topic, keywords] of Object.entries(spec as Record<string, readonly string[]>)) {
      if (!Array.isArray(keywords) || keywords.length === 0 || keywords.some((k) => typeof k !== 'string' || words(k).length === 0)) {
        throw typeError('a non-empty array of keywords (each with a letter or digit)', `topics.${topic}`, keywords);
      }
      names.push(topic);
      for (const k of keywords) {
        const w = words(k);
        const list = this.#byFirst.get(w[0]) ?? [];
        if (!list.some((e) => e.topic === topic && e.words.join(' ') === w.join(' '))) list.push({ words: w, topic });
        this.#byFirst.set(w[0], list);
      }
    }
    if (names.length === 0) throw typeError('at least one topic', 'topics', spec);
    this.names = names;
  }

  /**
   * The topics of a record, each once, in the order they are first met;
   * for a field spec, the field's value(s). A field holding something other
   * than a string or strings gives `undefined` (a malformed record).
   */
  topicsOf(record: Record<string, unknown>, text: string): string[] | undefined {
    if (this.field !== undefined) {
      const v = record[this.field];
      if (v === undefined || v === null || v === '') return [];
      if (typeof v === 'string') return [v];
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return [...new Set(v as string[])].filter(Boolean);
      return undefined;
    }
    const w = words(text);
    const found: string[] = [];
    for (let i = 0; i < w.length; i++) {
      const candidates = this.#byFirst.get(w[i]);
      if (!candidates) continue;
      for (const c of candidates) {
        if (found.includes(c.topic)) continue;
        if (c.words.every((x, j) => w[i + j] === x)) found.push(c.topic);
      }
    }
    return found;
  }
}
