/**
 * Slot values of the synthetic customer-service messages: products, order
 * ids, dates, amounts and person names, each drawn from a seeded Rng. Plain
 * data and pure functions.
 */
import type { Rng } from './rng.js';

/** Entity types, as they appear in BIO tags (B-PRODUCT, I-PRODUCT, ...). */
export const ENTITY_TYPES = ['PRODUCT', 'ORDER_ID', 'DATE', 'AMOUNT', 'PERSON'] as const;
export type EntityType = (typeof ENTITY_TYPES)[number];

/** Slot name in phrases -> entity type. */
export const SLOT_TYPES: Record<string, EntityType> = {
  product: 'PRODUCT', order: 'ORDER_ID', date: 'DATE', amount: 'AMOUNT', person: 'PERSON',
};

export const PRODUCTS = [
  'wireless headphones', 'coffee maker', 'running shoes', 'laptop stand', 'smart watch', 'bluetooth speaker', 'yoga mat',
  'desk lamp', 'phone case', 'air fryer', 'backpack', 'electric kettle', 'gaming mouse', 'winter jacket', 'blender',
  'tablet', 'monitor', 'vacuum cleaner', 'water bottle', 'keyboard', 'office chair', 'rice cooker', 'hair dryer',
  'baby stroller', 'sunglasses', 'e-reader', 'webcam', 'toaster', 'sleeping bag', 'drone',
];
const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];
const DAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];
const FIRST = ['john', 'maria', 'wei', 'priya', 'ahmed', 'olga', 'sam', 'lucas', 'fatima', 'kenji', 'emma', 'carlos', 'aisha', 'noah', 'lena', 'omar'];
const LAST = ['smith', 'garcia', 'chen', 'patel', 'khan', 'ivanova', 'martin', 'nguyen', 'kim', 'rossi', 'muller', 'silva'];

function ordinal(n: number): string {
  const s = n % 100 >= 11 && n % 100 <= 13 ? 'th' : ['th', 'st', 'nd', 'rd'][n % 10] ?? 'th';
  return `${n}${s}`;
}

/** A value for a slot; multi-word values are later split into words. */
export function slotValue(slot: string, rng: Rng): string {
  switch (slot) {
    case 'product': return rng.pick(PRODUCTS);
    case 'order': {
      const digits = String(rng.int(10000, 999999));
      return rng.pick([`#${digits}`, `ORD-${digits}`, digits, `A${digits.slice(0, 2)}-${digits.slice(2)}`]);
    }
    case 'date': {
      const m = rng.pick(MONTHS);
      const d = rng.int(1, 28);
      return rng.pick([`${m} ${d}`, `${m} ${ordinal(d)}`, `${d} ${m}`, `${rng.int(1, 12)}/${d}`, `2024-${String(rng.int(1, 12)).padStart(2, '0')}-${String(d).padStart(2, '0')}`,
        'yesterday', `last ${rng.pick(DAYS)}`, `next ${rng.pick(DAYS)}`, `the ${ordinal(d)}`, `${rng.pick(['two', 'three', 'five'])} days ago`]);
    }
    case 'amount': {
      const whole = rng.int(5, 500);
      const cents = rng.chance(0.5) ? `.${String(rng.int(0, 99)).padStart(2, '0')}` : '';
      return rng.pick([`$${whole}${cents}`, `$${whole}${cents}`, `${whole}${cents} dollars`, `€${whole}${cents}`, `£${whole}${cents}`, `${whole} bucks`]);
    }
    case 'person': return rng.chance(0.5) ? rng.pick(FIRST) : `${rng.pick(FIRST)} ${rng.pick(LAST)}`;
    default: throw new RangeError(`Expected a known slot (product, order, date, amount, person) for slot but received '${slot}'`);
  }
}
