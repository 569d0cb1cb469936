// Masked language modelling metrics: token accuracy and perplexity.
//
// Pure TypeScript over typed arrays copied out of a forward pass: no native addon, no
// state, synchronous. Labels follow PyTorch's cross_entropy convention: positions set
// to `ignoreIndex` (-100, what HF's DataCollatorForLanguageModeling writes) are skipped.
// Sums run in float64, so results do not depend on the float32 logits' summation order.

/** Logits of shape (..., V), row-major, e.g. (B, T, V) from an MLM head. */
export interface Logits {
  data: Float32Array | Float64Array;
  shape: readonly number[];
}

/** Token labels: vocabulary ids, or `ignoreIndex` for positions not scored. */
export type TokenLabels = ArrayLike<number> | BigInt64Array;

/** Result of {@link maskedAccuracy}. */
export interface MaskedAccuracy {
  /** `correct / total`; NaN when every position is ignored. */
  accuracy: number;
  correct: number;
  /** Positions whose label is not `ignoreIndex`. */
  total: number;
}

/**
 * Index of the largest logit of each row over the last axis (the first one on ties, as
 * torch.argmax and numpy.argmax).
 *
 * @returns one id per row, shape (product of the leading dims,)
 * @throws {RangeError} if the shape does not match the data or its last dim is 0.
 * @example
 * argmax({ data: new Float32Array([0.1, 2, -1, 3, 0, 0]), shape: [2, 3] }); // Int32Array [1, 0]
 */
export function argmax(logits: Logits): Int32Array {
  const [rows, vocab] = checkLogits(logits);
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let v = 1; v < vocab; v++) {
      if (logits.data[r * vocab + v] > logits.data[r * vocab + best]) best = v;
    }
    out[r] = best;
  }
  return out;
}

/**
 * Fraction of scored positions whose predicted id equals the label.
 *
 * @param predictions predicted ids, or logits of shape (..., V) to take the argmax of
 * @param ignoreIndex @default -100
 * @throws {RangeError} if predictions and labels differ in length, or logits are malformed.
 * @example
 * maskedAccuracy([5, 7, 9], [5, -100, 8]); // { accuracy: 0.5, correct: 1, total: 2 }
 */
export function maskedAccuracy(
  predictions: ArrayLike<number> | Logits,
  labels: TokenLabels,
  ignoreIndex = -100,
): MaskedAccuracy {
  const ids = isLogits(predictions) ? argmax(predictions) : predictions;
  checkLength(labels, ids.length, isLogits(predictions) ? 'one per row of predictions' : 'one per prediction');
  let correct = 0;
  let total = 0;
  for (let i = 0; i < ids.length; i++) {
    const label = Number(labels[i]);
    if (label === ignoreIndex) continue;
    total++;
    if (ids[i] === label) correct++;
  }
  return { accuracy: correct / total, correct, total };
}

/**
 * Mean cross-entropy (natural log) over scored positions, as
 * `torch.nn.functional.cross_entropy(logits.view(-1, V), labels.view(-1))` computes it,
 * but in float64.
 *
 * @param ignoreIndex @default -100
 * @returns the mean negative log-likelihood; NaN when every position is ignored (as PyTorch)
 * @throws {RangeError} if the labels do not match the rows, or a label is outside [0, V).
 * @example
 * meanCrossEntropy({ data: new Float32Array([0, 0]), shape: [1, 2] }, [1]); // Math.LN2
 */
export function meanCrossEntropy(logits: Logits, labels: TokenLabels, ignoreIndex = -100): number {
  const [rows, vocab] = checkLogits(logits);
  checkLength(labels, rows, 'one per row of logits');
  let sum = 0;
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const label = Number(labels[r]);
    if (label === ignoreIndex) continue;
    if (!Number.isInteger(label) || label < 0 || label >= vocab) {
      throw new RangeError(`Expected an id in [0, ${vocab}) or ${ignoreIndex} for labels[${r}] but received ${labels[r]}`);
    }
    // -log softmax = log sum exp(x - max) - (x[label] - max): no overflow, and no
    // cancellation between a large max and a large logit.
    const row = logits.data.subarray(r * vocab, (r + 1) * vocab);
    let max = -Infinity;
    for (const x of row) max = Math.max(max, x);
    let z = 0;
    for (const x of row) z += Math.exp(x - max);
    sum += Math.log(z) - (row[label] - max);
    total++;
  }
  return sum / total;
}

/**
 * Perplexity, `exp(mean cross-entropy)`, the number HF's run_mlm.py reports.
 *
 * @param meanCrossEntropyNats mean loss in nats, e.g. from {@link meanCrossEntropy}
 * @throws {RangeError} if the loss is NaN or negative.
 * @example
 * perplexity(Math.log(4)); // 4
 */
export function perplexity(meanCrossEntropyNats: number): number {
  if (typeof meanCrossEntropyNats !== 'number' || !(meanCrossEntropyNats >= 0)) {
    throw new RangeError(`Expected a non-negative mean cross-entropy for meanCrossEntropyNats but received ${meanCrossEntropyNats}`);
  }
  return Math.exp(meanCrossEntropyNats);
}

function isLogits(value: ArrayLike<number> | Logits): value is Logits {
  return typeof value === 'object' && value !== null && 'data' in value && 'shape' in value;
}

// Returns (rows, V) for logits of shape (..., V).
function checkLogits(logits: Logits): [number, number] {
  const { data, shape } = logits;
  if (!(data instanceof Float32Array || data instanceof Float64Array)) {
    throw new TypeError(`Expected a Float32Array or Float64Array for logits.data but received ${String(data)}`);
  }
  if (!Array.isArray(shape) || shape.length === 0 || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new RangeError(`Expected a shape of non-negative integers for logits.shape but received ${JSON.stringify(shape)}`);
  }
  const vocab = shape[shape.length - 1];
  const size = shape.reduce((a, b) => a * b, 1);
  if (vocab === 0 || size !== data.length) {
    throw new RangeError(
      `Expected a shape with V > 0 and ${data.length} elements (the length of logits.data) for logits.shape but received ${JSON.stringify(shape)}`,
    );
  }
  return [size / vocab, vocab];
}

function checkLength(labels: TokenLabels, expected: number, what: string): void {
  if (labels === null || typeof labels !== 'object' || typeof labels.length !== 'number') {
    throw new TypeError(`Expected an array of ids for labels but received ${String(labels)}`);
  }
  if (labels.length !== expected) {
    throw new RangeError(`Expected ${expected} labels (${what}) for labels but received ${labels.length}`);
  }
}
