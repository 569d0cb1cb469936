/**
 * A generated customer-service FAQ (lib/synth's 12 intents): a knowledge base
 * of canonical questions and agent answers, training pairs (a customer's
 * message -> its intent's KB question) drawn only from the intents' "seen"
 * wordings, and held-out messages drawn only from the other wordings, plus
 * out-of-scope questions. For tests, the example and benchmarks. Seeded.
 */
import type { PairExample } from '../embeddings/train.js';
import { CustomerServiceGenerator, INTENTS } from '../synth/index.js';
import type { HeldOutQuery } from './answerer.js';
import type { FaqEntry } from './kb.js';

/** Options of {@link syntheticFaq}. */
export interface SyntheticFaqOptions {
  /** @default 0 */
  seed?: number;
  /** KB questions per intent (its first seen paraphrases, slots filled). @default 2 */
  questionsPerIntent?: number;
  /** Training pairs per intent. @default 8 */
  trainPerIntent?: number;
  /** Held-out messages per intent. @default 10 */
  heldOutPerIntent?: number;
}

const SLOTS: Record<string, string> = { amount: '$20', date: 'monday', product: 'headphones', order: '1234', person: 'sam' };

/** Questions no intent answers. */
export const OUT_OF_SCOPE = [
  'what will the weather be like tomorrow', 'can you recommend a good pizza place nearby', 'who won the football game last night',
  'tell me a joke about cats', 'how tall is mount everest', 'what is the capital of australia', 'translate hello into french',
  'what time does the sun set today', 'how do i bake sourdough bread', 'play some relaxing music', 'what is the meaning of life',
  'how many calories are in a banana', 'write me a poem about the sea', 'what is two plus two', 'when was the eiffel tower built',
  'suggest a name for my puppy', 'how do i fix a flat bicycle tire', 'what movies are showing tonight', 'is it going to snow this week',
  'how far is the moon from the earth',
];

function canonical(phrase: string): string {
  const text = phrase.startsWith('~') ? `how do i ${phrase.slice(1)}` : phrase;
  return text.replace(/\{(\w+)\}/g, (_, s: string) => SLOTS[s] ?? s);
}

/**
 * The FAQ set.
 * @example const { entries, train, heldOut } = syntheticFaq({ seed: 1 });
 */
export function syntheticFaq(o: SyntheticFaqOptions = {}): { entries: FaqEntry[]; train: PairExample[]; heldOut: HeldOutQuery[]; outOfScope: string[] } {
  const { seed = 0, questionsPerIntent = 2, trainPerIntent = 8, heldOutPerIntent = 10 } = o;
  const gen = new CustomerServiceGenerator({ seed, seenPhrases: 3 });
  const entries: FaqEntry[] = INTENTS.flatMap((intent) => gen.phrases(intent, 'train').slice(0, questionsPerIntent).map((p, j) => ({
    id: `${intent.name}-${j}`, question: canonical(p), answer: intent.replies[0], intent: intent.name,
  })));
  const train: PairExample[] = [];
  const heldOut: HeldOutQuery[] = [];
  INTENTS.forEach((intent, label) => {
    const qs = entries.filter((e) => e.intent === intent.name);
    for (let i = 0; i < trainPerIntent; i++) train.push({ anchor: gen.message(label, 'train').text, positive: qs[0].question });
    for (let i = 0; i < heldOutPerIntent; i++) heldOut.push({ query: gen.message(label, 'test').text, intent: intent.name });
  });
  return { entries, train, heldOut, outOfScope: [...OUT_OF_SCOPE] };
}
