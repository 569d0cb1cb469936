// A set of 64-bit hashes in flat typed memory: open addressing with linear
// probing over a Uint32Array of (hi, lo) pairs, grown at half load. About 16
// to 32 bytes an entry, against 60 to 80 for a Set of bigint, which matters
// when a corpus has hundreds of millions of examples. Keys are expected to be
// uniformly random (hash output), so the low word is used as the index.

const INITIAL_SLOTS = 1 << 10;

/** A growable set of 64-bit keys given as two unsigned 32-bit halves. */
export class HashSet64 {
  #slots: Uint32Array;
  #mask: number;
  #size = 0;

  constructor(initialSlots = INITIAL_SLOTS) {
    let slots = INITIAL_SLOTS;
    while (slots < initialSlots) slots *= 2;
    this.#slots = new Uint32Array(2 * slots);
    this.#mask = slots - 1;
  }

  /** Number of keys held. */
  get size(): number {
    return this.#size;
  }

  /** Bytes of memory the table occupies. */
  get byteLength(): number {
    return this.#slots.byteLength;
  }

  /** Adds the key; returns false if it was already there. */
  add(hi: number, lo: number): boolean {
    // (0, 0) marks an empty slot, so that one key is stored as (0, 1).
    if (hi === 0 && lo === 0) lo = 1;
    const slot = this.#find(hi >>> 0, lo >>> 0);
    if (this.#slots[slot] !== 0 || this.#slots[slot + 1] !== 0) return false;
    this.#slots[slot] = hi;
    this.#slots[slot + 1] = lo;
    this.#size++;
    if (2 * this.#size > this.#mask + 1) this.#grow();
    return true;
  }

  /** Whether the key is in the set. */
  has(hi: number, lo: number): boolean {
    if (hi === 0 && lo === 0) lo = 1;
    const slot = this.#find(hi >>> 0, lo >>> 0);
    return this.#slots[slot] !== 0 || this.#slots[slot + 1] !== 0;
  }

  // The slot holding the key, or the empty slot where it would go.
  #find(hi: number, lo: number): number {
    const slots = this.#slots;
    let index = lo & this.#mask;
    for (;;) {
      const slot = 2 * index;
      const h = slots[slot];
      const l = slots[slot + 1];
      if ((h === 0 && l === 0) || (h === hi && l === lo)) return slot;
      index = (index + 1) & this.#mask;
    }
  }

  #grow(): void {
    const old = this.#slots;
    this.#slots = new Uint32Array(2 * old.length);
    this.#mask = old.length - 1;
    for (let slot = 0; slot < old.length; slot += 2) {
      const hi = old[slot];
      const lo = old[slot + 1];
      if (hi !== 0 || lo !== 0) {
        const target = this.#find(hi, lo);
        this.#slots[target] = hi;
        this.#slots[target + 1] = lo;
      }
    }
  }
}
