// Synthetic customer-service text: seeded, balanced, correctly tagged, with
// held-out paraphrases.
import test from 'ava';
import { extractEntities } from '../lib/metrics/index.js';
import { bioLabels, CustomerServiceGenerator, ENTITY_TYPES, INTENT_NAMES, INTENTS, typo } from '../lib/synth/index.js';

test('the same seed gives the same data, another seed other data', (t) => {
  const a = new CustomerServiceGenerator({ seed: 3 });
  const b = new CustomerServiceGenerator({ seed: 3 });
  const c = new CustomerServiceGenerator({ seed: 4 });
  const la = a.labeled({ perIntent: 5, split: 'train' });
  t.deepEqual(la, b.labeled({ perIntent: 5, split: 'train' }));
  t.notDeepEqual(la, c.labeled({ perIntent: 5, split: 'train' }));
  t.deepEqual([...a.unlabeled(50)], [...b.unlabeled(50)]);
});

test('there are 12 intents and labeled sets are balanced', (t) => {
  t.is(INTENT_NAMES.length, 12);
  const data = new CustomerServiceGenerator({ seed: 1 }).labeled({ perIntent: 7, split: 'test' });
  t.is(data.length, 84);
  for (let i = 0; i < 12; i++) t.is(data.filter((m) => m.label === i).length, 7);
  for (const m of data) t.is(INTENT_NAMES[m.label], m.intent);
});

test('BIO tags line up with tokens and entity offsets point into the text', (t) => {
  const gen = new CustomerServiceGenerator({ seed: 2 });
  const data = gen.labeled({ perIntent: 40, split: 'all' });
  const tagSet = new Set(bioLabels());
  const seen = new Set<string>();
  for (const m of data) {
    t.is(m.tokens.length, m.tags.length);
    for (const tok of m.tokens) t.regex(tok, /^\S+$/);
    for (const tag of m.tags) t.true(tagSet.has(tag), tag);
    // Valid IOB2: every I- follows a B- or I- of the same type.
    m.tags.forEach((tag, i) => {
      if (tag.startsWith('I-')) t.true(m.tags[i - 1] === `B-${tag.slice(2)}` || m.tags[i - 1] === tag, `${m.text}: ${m.tags.join(' ')}`);
    });
    const spans = extractEntities(m.tags);
    t.is(spans.length, m.entities.length);
    spans.forEach((s, j) => {
      const e = m.entities[j];
      t.is(e.type as string, s.type);
      t.is(m.text.slice(e.start, e.end), e.text);
      t.is(e.text, m.tokens.slice(s.start, s.end + 1).join(' '));
    });
    for (const e of m.entities) seen.add(e.type);
    // Tokens are the text's words (punctuation separate).
    t.is(m.tokens.join(' ').replace(/ ([.,!?])/g, '$1'), m.text);
  }
  t.deepEqual([...seen].sort(), [...ENTITY_TYPES].sort());
});

test('train and test splits use disjoint paraphrases and synonyms; the unlabeled stream uses all of them', (t) => {
  const gen = new CustomerServiceGenerator({ seed: 5, seenPhrases: 3 });
  for (const intent of INTENTS) {
    const train = gen.phrases(intent, 'train');
    const test_ = gen.phrases(intent, 'test');
    t.is(train.length, 3);
    t.is(train.length + test_.length, intent.phrases.length);
    t.false(train.some((p) => test_.includes(p)));
  }
  for (const intent of INTENTS) {
    const train = gen.words(intent, 'train');
    const test_ = gen.words(intent, 'test');
    t.is(train.verbs.length, 2);
    t.false(train.verbs.some((v) => test_.verbs.includes(v)) || train.nouns.some((n) => test_.nouns.includes(n)));
  }
  // A word only in held-out phrases ("reimbursement") shows up unlabeled but never in train.
  const noiseless = new CustomerServiceGenerator({ seed: 5, typoRate: 0, fillerRate: 0, casing: false });
  const train = noiseless.labeled({ perIntent: 50, split: 'train' }).map((m) => m.text).join('\n');
  const unlabeled = [...noiseless.unlabeled(3000)].join('\n');
  t.false(train.includes('reimbursement'));
  t.true(unlabeled.includes('reimbursement'));
});

test('noise: typos, casing and fillers appear at their rates, and can be turned off', (t) => {
  const noisy = [...new CustomerServiceGenerator({ seed: 6, typoRate: 0.2, fillerRate: 0.2 }).unlabeled(300)].join(' ');
  t.regex(noisy, /[A-Z]{4,}/);
  t.regex(noisy, /\b(um|uh|basically|honestly|literally)\b/i);
  const clean = [...new CustomerServiceGenerator({ seed: 6, typoRate: 0, fillerRate: 0, casing: false }).unlabeled(300)].join(' ');
  t.notRegex(clean, /[A-Z]{4,}/);
  t.notRegex(clean, /\b(um|uh|literally)\b/);
  t.not(typo('password', { next: () => 0.5, int: (lo: number) => lo, chance: () => true, pick: <T,>(x: readonly T[]) => x[0] } as never), 'password');
  t.is(typo('the', { int: () => 0 } as never), 'the');
});

test('bad options are refused', (t) => {
  t.throws(() => new CustomerServiceGenerator({ seenPhrases: 0 }), { instanceOf: RangeError, message: /seenPhrases/ });
  t.throws(() => new CustomerServiceGenerator({ typoRate: 2 }), { instanceOf: RangeError, message: /typoRate/ });
  t.throws(() => new CustomerServiceGenerator().labeled({ perIntent: 0, split: 'train' }), { instanceOf: RangeError, message: /perIntent/ });
});
