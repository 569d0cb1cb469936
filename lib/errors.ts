/**
 * Errors thrown by bertorch. The native addon receives these classes once at
 * load (binding.setup) and constructs them itself, so `instanceof` works for
 * errors raised inside libtorch. `code` is stable; `message` is libtorch's
 * message without the C++ backtrace (set TORCH_SHOW_CPP_STACKTRACES=1 for it).
 */

/** Base class of every error raised by libtorch or by bertorch's native layer. */
export class TorchError extends Error {
  /** Stable machine-readable code, e.g. `ERR_DISPOSED`, `ERR_BUSY`, `ERR_TORCH`. */
  readonly code: string;
  constructor(message: string, code = 'ERR_TORCH') {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}
/** libtorch ran out of memory (c10::OutOfMemoryError or std::bad_alloc). */
export class TorchOutOfMemoryError extends TorchError {}
/** An index out of range (c10::IndexError). */
export class TorchIndexError extends TorchError {}
/** A value libtorch rejected (c10::ValueError). */
export class TorchValueError extends TorchError {}
/** A type libtorch rejected (c10::TypeError). */
export class TorchTypeError extends TorchError {}
/** Not implemented for these inputs or this device (c10::NotImplementedError). */
export class TorchNotImplementedError extends TorchError {}
/** A distributed (c10d) failure: a dead peer, a timeout. */
export class TorchDistError extends TorchError {}

export const errorClasses = {
  TorchError,
  TorchOutOfMemoryError,
  TorchIndexError,
  TorchValueError,
  TorchTypeError,
  TorchNotImplementedError,
  TorchDistError,
};

/** Describes a value for `Expected <what> for <name> but received <value>` messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return `'${value.length > 60 ? value.slice(0, 57) + '...' : value}'`;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  if (typeof value === 'function') return 'a function';
  const name = (value as object).constructor?.name;
  return name && name !== 'Object' ? `a ${name}` : 'an object';
}

/** Throws a TypeError in the one shape every argument error uses. */
export function invalidType(what: string, name: string, value: unknown): never {
  throw Object.assign(new TypeError(`Expected ${what} for ${name} but received ${describe(value)}`), {
    code: 'ERR_INVALID_ARG',
  });
}

/** Throws a RangeError in the one shape every argument error uses. */
export function invalidRange(what: string, name: string, value: unknown): never {
  throw Object.assign(new RangeError(`Expected ${what} for ${name} but received ${describe(value)}`), {
    code: 'ERR_INVALID_ARG',
  });
}

/**
 * Re-attaches the JS stack of the call site to an error raised by an async
 * native call (whose own stack is empty), keeping class and code (sharp's idea).
 */
export function withCallSite<E>(err: E, site: Error): E {
  if (err instanceof Error && site.stack) {
    const head = `${err.name}: ${err.message}`;
    err.stack = head + site.stack.slice(site.stack.indexOf('\n'));
  }
  return err;
}
