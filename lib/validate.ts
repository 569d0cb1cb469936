// Argument checks shared by the pure-TypeScript modules (tokenizer, data).
// Every failure has one shape (STYLE.md §4): `Expected <what> for <name> but
// received <value>`, as a TypeError for a wrong kind of value and a RangeError
// for a value of the right kind outside its domain. No native code here.

/** @internal Short, printable text of a bad argument for an error message. */
export function show(value: unknown): string {
  if (typeof value === 'string') {
    return value.length > 80 ? `${JSON.stringify(value.slice(0, 77))}... (${value.length} characters)` : JSON.stringify(value);
  }
  if (typeof value === 'bigint') return `${value}n`;
  if (Array.isArray(value)) return value.length > 8 ? `an array of length ${value.length}` : JSON.stringify(value);
  if (value !== null && typeof value === 'object') {
    const name = value.constructor?.name;
    return name && name !== 'Object' ? `a ${name}` : 'an object';
  }
  return String(value);
}

/** @internal A TypeError in the project's argument-error shape. */
export function typeError(what: string, name: string, value: unknown): TypeError {
  return new TypeError(`Expected ${what} for ${name} but received ${show(value)}`);
}

/** @internal A RangeError in the project's argument-error shape. */
export function rangeError(what: string, name: string, value: unknown): RangeError {
  return new RangeError(`Expected ${what} for ${name} but received ${show(value)}`);
}

/** @internal Checks an optional boolean and returns it or the default. */
export function optionalBoolean(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw typeError('a boolean', name, value);
  return value;
}

/** @internal Checks an optional integer in [min, max] and returns it or the default. */
export function optionalInteger(value: unknown, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw typeError('an integer', name, value);
  if (value < min || value > max) throw rangeError(`an integer from ${min} to ${max}`, name, value);
  return value;
}

/** @internal Checks an optional finite number in [min, max] and returns it or the default. */
export function optionalNumber(value: unknown, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value)) throw typeError('a number', name, value);
  if (value < min || value > max) throw rangeError(`a number from ${min} to ${max}`, name, value);
  return value;
}

/** @internal Checks a non-empty string. */
export function requireString(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.length === 0) throw typeError('a non-empty string', name, value);
  return value;
}

/** @internal Checks that `value` is one of `choices` (or undefined, giving the default). */
export function optionalChoice<T extends string | boolean>(value: unknown, name: string, choices: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!choices.includes(value as T)) {
    throw rangeError(`one of ${choices.map((c) => (typeof c === 'string' ? `'${c}'` : String(c))).join(', ')}`, name, value);
  }
  return value as T;
}

/** @internal Checks an options bag: undefined or a plain object. */
export function optionsObject<T extends object>(value: T | undefined, name: string): Partial<T> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw typeError('an options object', name, value);
  return value;
}
