// CoNLL files for token classification (NER): one token a line, columns
// separated by spaces or tabs, a blank line between sentences, -DOCSTART-
// lines skipped. Strict as HF users know it from seqeval's strict mode:
// - the word is column 0 and the tag column 1; a file with more columns
//   (CoNLL-2003's `word POS chunk NER`) needs `tagColumn` (3, or -1 for the
//   last), since taking "the last column" silently reads a chunk or POS tag
//   wherever a line lost or gained a column;
// - every token line has as many columns as the first;
// - a tag sequence that breaks the declared scheme (I-PER after O in IOB2)
//   is a bad row, or with `invalidTags: 'repair'` a repair that is counted
//   and listed (seqeval's default reading), never a silent change.
// IOB1 (B- only between two adjacent entities of a type) becomes IOB2.

import { BadRowTally, checkIndex, checkLabels, type BadRow, type DatasetBadRowReason, type SkippedRow } from './bad-rows.js';
import { asInputError, ReaderConfigError } from './corpus-error.js';
import { lineProblem } from './csv.js';
import { readLines } from './lines.js';
import { optionalBoolean, optionalChoice, optionalInteger, optionsObject, requireString, typeError } from '../validate.js';

/** One sentence of a {@link TokenClassificationDataset}: its words and a tag id per word. */
export interface TokenClassificationExample {
  words: string[];
  labels: Int32Array;
}

/** A tag changed by `invalidTags: 'repair'`. */
export interface TagRepair {
  line: number;
  from: string;
  to: string;
}

/** Options of {@link TokenClassificationDataset.fromConll}. */
export interface ConllOptions {
  /** Tag names in id order; another tag is a bad row (`unknown_label`). @default the sorted distinct tags (after conversion to IOB2) */
  labels?: string[];
  /**
   * The file's tagging scheme. IOB2: every entity starts with B-X, and I-X
   * only continues an X entity. IOB1 (CoNLL-2003's original files): I-X
   * starts an entity, and B-X only starts one right after another X entity;
   * it is converted to IOB2.
   * @default 'IOB2'
   */
  scheme?: 'IOB2' | 'IOB1';
  /**
   * A tag sequence that breaks the scheme: `'error'` makes its sentence a bad
   * row (`invalid_tags`: thrown, or skipped with `onBadRow: 'skip'`);
   * `'repair'` reads it as seqeval's default mode does (IOB2: I-X that
   * continues nothing becomes B-X; IOB1: such a B-X becomes I-X) and lists
   * each change in `repairs`.
   * @default 'error'
   */
  invalidTags?: 'error' | 'repair';
  /**
   * 0-based column of the tag; negative counts from the end (-1: the last).
   * Needed when the lines have more than two columns, e.g. 3 (or -1) for
   * CoNLL-2003's `word POS chunk NER`.
   * @default 1, for files of two columns
   */
  tagColumn?: number;
  /** 0-based column of the word. @default 0 */
  wordColumn?: number;
  /** Default of the collator's labelAllSubwords: label every word piece, not only a word's first. @default false */
  labelAllSubwords?: boolean;
  /**
   * A bad line (invalid UTF-8, a NUL byte, too long, a missing tag column or
   * another number of columns, a tag not O/B-X/I-X, an unknown tag, an
   * invalid tag sequence): throw a CorpusError naming file and line, or skip
   * its sentence, counted in `badRows` and listed in `skippedRows`.
   * @default 'error'
   */
  onBadRow?: 'error' | 'skip';
  /** @default 8388608 */
  maxLineBytes?: number;
}

const DEFAULT_MAX_LINE_BYTES = 8 * 1024 * 1024;
const TAG = /^(?:O|[BI]-\S+)$/;

/**
 * Sentences of a CoNLL file for token classification (NER).
 * @example
 * const train = await TokenClassificationDataset.fromConll('conll2003/train.txt', { scheme: 'IOB1', tagColumn: 3 });
 * train.get(0); // { words: ['EU', 'rejects', ...], labels: Int32Array [...] }
 */
export class TokenClassificationDataset {
  /** Tag names in id order (HF `id2label`). */
  readonly labels: readonly string[];
  readonly label2id: Readonly<Record<string, number>>;
  readonly labelAllSubwords: boolean;
  /** Sentences skipped with `onBadRow: 'skip'`, by reason. */
  readonly badRows: Readonly<Partial<Record<DatasetBadRowReason, number>>>;
  /** Each sentence skipped with `onBadRow: 'skip'`: the line of its problem, the reason, the message. */
  readonly skippedRows: readonly SkippedRow[];
  /** Tags changed by `invalidTags: 'repair'`, in file order. */
  readonly repairs: readonly TagRepair[];
  readonly #sentences: TokenClassificationExample[];

  private constructor(init: { labels: string[]; sentences: TokenClassificationExample[]; labelAllSubwords: boolean; tally: BadRowTally; repairs: TagRepair[] }) {
    this.labels = Object.freeze(init.labels);
    this.label2id = Object.freeze(Object.fromEntries(init.labels.map((name, id) => [name, id])));
    this.#sentences = init.sentences;
    this.labelAllSubwords = init.labelAllSubwords;
    this.badRows = Object.freeze(init.tally.counts);
    this.skippedRows = Object.freeze(init.tally.rows);
    this.repairs = Object.freeze(init.repairs);
  }

  /**
   * Reads a CoNLL file (`.gz` too).
   * @throws {TypeError} for bad options.
   * @throws {CorpusError} `ERR_CORPUS_BAD_ROW` naming file:line for a bad line or sentence, unless `onBadRow: 'skip'`;
   *   `ERR_CORPUS_INPUT` for a file that cannot be read, or of more than two columns without `tagColumn`.
   */
  static async fromConll(path: string, options?: ConllOptions): Promise<TokenClassificationDataset> {
    requireString(path, 'path');
    const opts = optionsObject(options, 'options');
    const scheme = optionalChoice(opts.scheme, 'scheme', ['IOB2', 'IOB1'] as const, 'IOB2');
    const repair = optionalChoice(opts.invalidTags, 'invalidTags', ['error', 'repair'] as const, 'error') === 'repair';
    const labelAllSubwords = optionalBoolean(opts.labelAllSubwords, 'labelAllSubwords', false);
    const onBadRow = optionalChoice(opts.onBadRow, 'onBadRow', ['error', 'skip'] as const, 'error');
    const maxLineBytes = optionalInteger(opts.maxLineBytes, 'maxLineBytes', DEFAULT_MAX_LINE_BYTES, 1, 2 ** 30);
    if (opts.tagColumn !== undefined && (!Number.isInteger(opts.tagColumn) || Math.abs(opts.tagColumn) > 1000)) throw typeError('an integer column index (-1 for the last)', 'tagColumn', opts.tagColumn);
    const wordColumn = optionalInteger(opts.wordColumn, 'wordColumn', 0, 0, 1000);
    const fixed = opts.labels === undefined ? undefined : checkLabels(opts.labels);
    const tally = new BadRowTally(path, onBadRow);
    const repairs: TagRepair[] = [];
    const sentences: Array<{ words: string[]; tags: string[] }> = [];
    const columns = new Columns(opts.tagColumn, wordColumn);
    let sentence: Sentence = { words: [], tags: [], lines: [] };
    const flush = () => {
      const bad = sentence.bad ?? checkSentence(sentence, scheme, repair, repairs, fixed);
      if (bad) tally.add(bad);
      else if (sentence.words.length > 0) sentences.push(sentence);
      sentence = { words: [], tags: [], lines: [] };
    };
    try {
      for await (const raw of readLines(path, maxLineBytes)) {
        if (raw.error) {
          sentence.bad ??= { line: raw.line, ...lineProblem(raw, maxLineBytes) };
          continue;
        }
        if (raw.text.trim().length === 0) {
          flush();
          continue;
        }
        const fields = raw.text.replace(/^[ \t]+|[ \t]+$/g, '').split(/[ \t]+/);
        if (fields[0] === '-DOCSTART-') {
          flush();
          continue;
        }
        if (sentence.bad !== undefined) continue;
        const token = columns.read(fields, raw.line);
        if ('bad' in token) sentence.bad = token;
        else {
          sentence.words.push(token.word);
          sentence.tags.push(token.tag);
          sentence.lines.push(raw.line);
        }
      }
      flush();
    } catch (error) {
      throw asInputError(path, error);
    }
    const labels = fixed ?? [...new Set(sentences.flatMap((s) => s.tags))].sort();
    const ids = new Map(labels.map((name, id) => [name, id]));
    const examples = sentences.map(({ words, tags }) => ({ words, labels: Int32Array.from(tags, (tag) => ids.get(tag)!) }));
    return new TokenClassificationDataset({ labels, sentences: examples, labelAllSubwords, tally, repairs });
  }

  /** Number of sentences. */
  get length(): number {
    return this.#sentences.length;
  }

  /** Sentence `i` (a copy; change it freely). */
  get(i: number): TokenClassificationExample {
    checkIndex(i, this.length);
    const { words, labels } = this.#sentences[i];
    return { words: [...words], labels: labels.slice() };
  }

  /** Words in sentence `i`, for bucketing. */
  lengthOf(i: number): number {
    checkIndex(i, this.length);
    return this.#sentences[i].words.length;
  }
}

interface Sentence {
  words: string[];
  tags: string[];
  lines: number[];
  bad?: BadRow;
}

// The column layout, fixed by the first token line of the file.
class Columns {
  #width: number | undefined;
  #first = 0;
  #tag = 1;

  constructor(
    readonly tagColumn: number | undefined,
    readonly wordColumn: number,
  ) {}

  read(fields: string[], line: number): { word: string; tag: string } | BadRow {
    if (fields.length < 2) return { line, bad: 'missing_column', message: `the line has no tag column: ${JSON.stringify(fields[0].slice(0, 80))}` };
    if (this.#width === undefined) this.#fix(fields.length, line);
    if (fields.length !== this.#width) return { line, bad: 'field_count', message: `${fields.length} columns, line ${this.#first} has ${this.#width}` };
    const tag = fields[this.#tag];
    if (!TAG.test(tag)) return { line, bad: 'invalid_label', message: `tag ${JSON.stringify(tag)} (column ${this.#tag}) is not O, B-<type> or I-<type>` };
    return { word: fields[this.wordColumn], tag };
  }

  #fix(width: number, line: number): void {
    if (this.tagColumn === undefined && width !== 2) {
      throw new ReaderConfigError(
        `the line has ${width} columns: name the tag column with tagColumn (--tag-column), e.g. 3 for CoNLL-2003's "word POS chunk NER"`,
        line,
      );
    }
    const tag = this.tagColumn === undefined ? 1 : this.tagColumn < 0 ? width + this.tagColumn : this.tagColumn;
    if (tag < 0 || tag >= width || this.wordColumn >= width || tag === this.wordColumn) {
      throw new ReaderConfigError(`tagColumn ${this.tagColumn ?? 1} and wordColumn ${this.wordColumn} do not fit the ${width} columns of the line`, line);
    }
    this.#width = width;
    this.#first = line;
    this.#tag = tag;
  }
}

// Checks (or repairs) the sentence's tags against its scheme, converts IOB1
// to IOB2 and checks a fixed label list; a problem is returned, repairs are
// made in place.
function checkSentence(sentence: Sentence, scheme: 'IOB2' | 'IOB1', repair: boolean, repairs: TagRepair[], fixed: string[] | undefined): BadRow | undefined {
  const tags = sentence.tags;
  for (let k = 0; k < tags.length; k++) {
    const previous = k > 0 ? tags[k - 1] : 'O';
    const continues = previous !== 'O' && previous.slice(2) === tags[k].slice(2);
    const broken = scheme === 'IOB2' ? tags[k].startsWith('I-') && !continues : tags[k].startsWith('B-') && !continues;
    if (!broken) continue;
    const to = `${scheme === 'IOB2' ? 'B' : 'I'}-${tags[k].slice(2)}`;
    if (!repair) {
      const after = k === 0 ? 'at the start of a sentence' : `after ${JSON.stringify(previous)}`;
      const rule = scheme === 'IOB2' ? `an entity starts with B-${tags[k].slice(2)}` : `B-${tags[k].slice(2)} only follows an entity of its type`;
      const hint = scheme === 'IOB2' ? "; for an IOB1 file pass scheme 'IOB1'" : "; for an IOB2 file pass scheme 'IOB2'";
      return { line: sentence.lines[k], bad: 'invalid_tags', message: `tag ${JSON.stringify(tags[k])} ${after} breaks ${scheme} (${rule})${hint}, or invalidTags: 'repair' to read it as ${to}` };
    }
    repairs.push({ line: sentence.lines[k], from: tags[k], to });
    tags[k] = to;
  }
  if (scheme === 'IOB1') sentence.tags = iob1ToIob2(tags);
  const unknown = fixed ? sentence.tags.findIndex((tag) => !fixed.includes(tag)) : -1;
  if (unknown >= 0) return { line: sentence.lines[unknown], bad: 'unknown_label', message: `tag ${JSON.stringify(sentence.tags[unknown])} is not one of ${JSON.stringify(fixed)}` };
  return undefined;
}

/**
 * IOB1 tags to IOB2: an I-X that does not continue an X entity (at the start,
 * after O or after another type) becomes B-X, as seqeval reads IOB1.
 * @example
 * iob1ToIob2(['I-PER', 'I-PER', 'O', 'I-LOC', 'B-LOC']); // ['B-PER', 'I-PER', 'O', 'B-LOC', 'B-LOC']
 */
export function iob1ToIob2(tags: readonly string[]): string[] {
  return tags.map((tag, k) => {
    if (!tag.startsWith('I-')) return tag;
    const previous = k > 0 ? tags[k - 1] : 'O';
    return previous === 'O' || previous.slice(2) !== tag.slice(2) ? `B-${tag.slice(2)}` : tag;
  });
}
