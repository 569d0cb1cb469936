// WordPiece vocabulary learning: the algorithm of HuggingFace tokenizers'
// WordPieceTrainer (a BpeTrainer with the "##" continuing-subword prefix,
// tokenizers/src/models/bpe/trainer.rs), ported step for step so that the
// same word counts give the same vocabulary. The `tokenizers` npm binding
// only trains with its default settings (30000 tokens, no special tokens, no
// min_frequency), which is why this lives here. One deliberate difference:
// HF numbers the "##x" symbols in hash-map order, which makes its ties (and
// so its vocabulary) vary from run to run (huggingface/tokenizers#1794); here
// they are numbered by code point, so training is deterministic.
// Input is word counts (words already normalized and pre-tokenized by the
// `tokenizers` package, see train.ts); output is the vocabulary in id order.
// Pure and synchronous, except that it yields to the event loop now and then.

/** Settings of {@link learnWordPiece}, named after HF's WordPieceTrainer. */
export interface LearnOptions {
  vocabSize: number;
  minFrequency: number;
  specialTokens: readonly string[];
  /** Keep only the most frequent characters (HF `limit_alphabet`); undefined keeps all. */
  limitAlphabet: number | undefined;
}

const PREFIX = '##';
// Pair (a, b) of symbol ids packed into one number; ids stay below 2^26.
const SHIFT = 2 ** 26;

interface Merge {
  count: number;
  a: number;
  b: number;
  /** Words that may contain the pair (HF `pos`). */
  pos: number[];
}

// HF's Merge ordering: higher count first, then the smaller pair.
function before(x: Merge, y: Merge): boolean {
  if (x.count !== y.count) return x.count > y.count;
  if (x.a !== y.a) return x.a < y.a;
  return x.b < y.b;
}

/** A binary heap of merges, top = the merge HF's BinaryHeap would pop. */
class MergeQueue {
  #items: Merge[] = [];

  get size(): number {
    return this.#items.length;
  }

  push(item: Merge): void {
    const items = this.#items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(items[i], items[parent])) break;
      [items[i], items[parent]] = [items[parent], items[i]];
      i = parent;
    }
  }

  pop(): Merge {
    const items = this.#items;
    const top = items[0];
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let best = i;
        if (left < items.length && before(items[left], items[best])) best = left;
        if (right < items.length && before(items[right], items[best])) best = right;
        if (best === i) break;
        [items[i], items[best]] = [items[best], items[i]];
        i = best;
      }
    }
    return top;
  }
}

/**
 * Learns a WordPiece vocabulary from word counts: special tokens, then the
 * alphabet (characters by code point, then "##" characters by code point),
 * then merged subwords in the order they were learned.
 */
export async function learnWordPiece(wordCounts: ReadonlyMap<string, number>, options: LearnOptions): Promise<string[]> {
  const idToWord: string[] = [];
  const wordToId = new Map<string, number>();
  const add = (token: string): number => {
    let id = wordToId.get(token);
    if (id === undefined) {
      id = idToWord.length;
      idToWord.push(token);
      wordToId.set(token, id);
    }
    return id;
  };

  // 1. Special tokens.
  for (const token of options.specialTokens) add(token);

  // 2. The alphabet, optionally limited to the most frequent characters.
  const alphabet = new Map<string, number>();
  for (const [word, count] of wordCounts) {
    for (const char of word) alphabet.set(char, (alphabet.get(char) ?? 0) + count);
  }
  let kept = [...alphabet.keys()];
  if (options.limitAlphabet !== undefined && kept.length > options.limitAlphabet) {
    // HF drops the rarest; its sort is unstable on ties, ours drops higher code points first.
    kept.sort((x, y) => alphabet.get(x)! - alphabet.get(y)! || y.codePointAt(0)! - x.codePointAt(0)!);
    kept = kept.slice(kept.length - options.limitAlphabet);
  }
  kept.sort((x, y) => x.codePointAt(0)! - y.codePointAt(0)!);
  for (const char of kept) add(char);
  const allowed = new Set(kept);
  for (const token of options.specialTokens) if ([...token].length === 1) allowed.add(token);

  // 3. Words as symbol ids; "##x" symbols numbered by code point (see header).
  const continuing = new Set<string>();
  for (const word of wordCounts.keys()) {
    let first = true;
    for (const char of word) {
      if (!first && allowed.has(char)) continuing.add(char);
      first = false;
    }
  }
  for (const char of [...continuing].sort((x, y) => x.codePointAt(0)! - y.codePointAt(0)!)) add(PREFIX + char);
  const words: number[][] = [];
  const counts: number[] = [];
  for (const [word, count] of wordCounts) {
    const symbols: number[] = [];
    let first = true;
    for (const char of word) {
      if (allowed.has(char)) symbols.push(wordToId.get(first ? char : PREFIX + char)!);
      first = false;
    }
    words.push(symbols);
    counts.push(count);
  }

  // 4. Pair counts and the words each pair occurs in.
  const pairCounts = new Map<number, number>();
  let whereToUpdate = new Map<number, number[]>();
  const note = (key: number, word: number) => {
    const list = whereToUpdate.get(key);
    // A word's pairs are visited together, so a repeat is always at the end.
    if (list === undefined) whereToUpdate.set(key, [word]);
    else if (list[list.length - 1] !== word) list.push(word);
  };
  words.forEach((symbols, w) => {
    for (let i = 0; i + 1 < symbols.length; i++) {
      const key = symbols[i] * SHIFT + symbols[i + 1];
      pairCounts.set(key, (pairCounts.get(key) ?? 0) + counts[w]);
      note(key, w);
    }
  });
  const queue = new MergeQueue();
  const enqueue = () => {
    for (const [key, pos] of whereToUpdate) {
      const count = pairCounts.get(key)!;
      if (count > 0) queue.push({ count, a: Math.floor(key / SHIFT), b: key % SHIFT, pos });
    }
    whereToUpdate = new Map();
  };
  enqueue();

  // 5. Merges, most frequent pair first, until the vocabulary is full.
  let lastYield = Date.now();
  while (wordToId.size < options.vocabSize && queue.size > 0) {
    const top = queue.pop();
    const current = pairCounts.get(top.a * SHIFT + top.b)!;
    if (top.count !== current) {
      top.count = current;
      queue.push(top);
      continue;
    }
    if (top.count < 1 || options.minFrequency > top.count) break;
    const partB = idToWord[top.b];
    const newId = add(idToWord[top.a] + (partB.startsWith(PREFIX) ? partB.slice(PREFIX.length) : partB));
    for (const w of top.pos) mergeWord(words[w], top.a, top.b, newId, counts[w], w, pairCounts, note);
    enqueue();
    if (Date.now() - lastYield > 50) {
      await new Promise((resolve) => setImmediate(resolve));
      lastYield = Date.now();
    }
  }
  return idToWord;
}

// HF's Word::merge: replaces every (a, b) left to right and reports the pair
// counts that change, weighted by how often the word occurs.
function mergeWord(
  symbols: number[],
  a: number,
  b: number,
  replacement: number,
  count: number,
  word: number,
  pairCounts: Map<number, number>,
  note: (key: number, word: number) => void,
): void {
  const change = (left: number, right: number, delta: number) => {
    const key = left * SHIFT + right;
    pairCounts.set(key, (pairCounts.get(key) ?? 0) + delta * count);
    if (delta > 0) note(key, word);
  };
  for (let i = 0; i < symbols.length; i++) {
    if (symbols[i] !== a || i + 1 >= symbols.length || symbols[i + 1] !== b) continue;
    if (i > 0) {
      change(symbols[i - 1], a, -1);
      change(symbols[i - 1], replacement, 1);
    }
    symbols.splice(i, 2, replacement);
    if (i < symbols.length - 1) {
      change(b, symbols[i + 1], -1);
      change(replacement, symbols[i + 1], 1);
    }
  }
}
