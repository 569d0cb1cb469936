/**
 * Generated click logs with a hidden preference, for the recommend example
 * and its test: a context is what a user viewed recently (two products of one
 * category); candidates are products of that same category (they share the
 * most words with the context, and are rarely clicked), of one hidden
 * complementary category (tents -> sleeping bags: no shared words, clicked
 * most), and of others (now and then). A word-overlap ranker prefers exactly
 * the wrong items; a cross-encoder can learn the pairing from clicks.
 */
import { Rng } from '../../lib/synth/rng.js';
import type { Click } from '../../lib/rank/index.js';

const CATEGORIES: Record<string, string[]> = {
  tent: ['dome tent', 'tunnel tent', 'pop up tent', 'backpacking tent'],
  sleeping: ['sleeping bag', 'down sleeping bag', 'mummy sleeping bag', 'sleeping pad'],
  shoe: ['running shoes', 'trail runners', 'road racing flats', 'cushioned trainers'],
  sock: ['wool socks', 'compression socks', 'ankle socks', 'merino crew socks'],
  camera: ['mirrorless camera', 'compact camera', 'action camera', 'film camera'],
  lens: ['zoom lens', 'prime lens', 'wide angle lens', 'macro lens'],
  coffee: ['espresso machine', 'pour over kettle', 'french press', 'moka pot'],
  grinder: ['burr grinder', 'hand grinder', 'conical grinder', 'blade grinder'],
  guitar: ['acoustic guitar', 'electric guitar', 'classical guitar', 'travel guitar'],
  strings: ['nylon strings', 'steel strings', 'bass strings', 'coated strings'],
  yoga: ['yoga mat', 'cork yoga block', 'yoga strap', 'travel yoga mat'],
  bottle: ['water bottle', 'insulated flask', 'filter bottle', 'collapsible bottle'],
};
/** The hidden preference: who viewed a category clicks its partner. */
export const PARTNER: Record<string, string> = {
  tent: 'sleeping', sleeping: 'tent', shoe: 'sock', sock: 'shoe', camera: 'lens', lens: 'camera',
  coffee: 'grinder', grinder: 'coffee', guitar: 'strings', strings: 'guitar', yoga: 'bottle', bottle: 'yoga',
};
const BRANDS = ['northpeak', 'vela', 'arbor', 'kestrel', 'lumo', 'orbit', 'tidal', 'cobalt'];
const COLORS = ['red', 'blue', 'black', 'green', 'grey', 'orange'];
const NAMES = Object.keys(CATEGORIES);

function product(rng: Rng, category: string): string {
  return `${rng.pick(BRANDS)} ${rng.pick(COLORS)} ${rng.pick(CATEGORIES[category])}`;
}

export interface ClickLogOptions {
  contexts: number;
  /** Candidates shown per context. @default 20 */
  candidates?: number;
  seed?: number;
}

/** A click log: for each context, its candidates (all shown), clicked or not. */
export function clickLog({ contexts, candidates = 20, seed = 1 }: ClickLogOptions): Click[] {
  const rng = new Rng(seed);
  const out: Click[] = [];
  for (let c = 0; c < contexts; c++) {
    const category = rng.pick(NAMES);
    const context = `viewed ${product(rng, category)} and ${product(rng, category)}`;
    for (let k = 0; k < candidates; k++) {
      const kind = k < 6 ? 'partner' : k < 11 ? 'same' : 'other';
      const cat = kind === 'partner' ? PARTNER[category] : kind === 'same' ? category : rng.pick(NAMES.filter((n) => n !== category && n !== PARTNER[category]));
      const p = kind === 'partner' ? 0.8 : kind === 'same' ? 0.05 : 0.03;
      out.push({ context, item: product(rng, cat), clicked: rng.chance(p) ? 1 : 0 });
    }
  }
  return out;
}

/** The texts of a log (for a tokenizer). */
export function clickTexts(clicks: readonly Click[]): string[] {
  return [...new Set(clicks.flatMap((c) => [c.context, c.item]))];
}
