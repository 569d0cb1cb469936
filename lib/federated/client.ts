/**
 * A federated participant around a bertorch model and its private examples:
 * load the global weights, train locally (AdamW, a native step per batch),
 * and return the difference local - global. The examples never leave this
 * object. FedProx's proximal term μ/2 ||w - w_global||² enters as a step of
 * its own after each AdamW step, w <- w - lr μ (w - w_global): decoupled from
 * Adam's per-coordinate normalisation, as AdamW decouples weight decay (with
 * plain SGD this is exactly FedProx's gradient). Adding μ (w - w_global) to
 * the gradient instead lets Adam blow the tiny pull up to full-size steps on
 * coordinates the loss barely moves (on the non-IID intent test, μ = 0.01:
 * 0.84 accuracy that way against 0.99 decoupled and 0.99 for FedAvg). One fit at a time.
 */
import { invalidRange, invalidType } from '../errors.js';
import type { PreTrainedBert } from '../models/bert.js';
import { manualSeed, tensor, type Device, type Tensor } from '../tensor.js';
import { ArraySource, type Example } from '../train/array-source.js';
import { mixSeed } from '../train/rng.js';
import type { Batch } from '../train/source.js';
import type { ClientUpdate } from './codec.js';
import type { FederatedClient } from './server.js';
import type { FitConfig } from './strategies.js';
import { fromModel, subtract, toModel, type Weights } from './weights.js';

export interface BertClientOptions<E = Example> {
  /** This client's model (same architecture as the global one; its weights are overwritten each round). */
  model: PreTrainedBert;
  /** The private training examples. */
  examples: readonly E[];
  /** Local epochs; when set, wins over the server's FitConfig (a client knows its budget). */
  localEpochs?: number;
  /** Local batch size; when set, wins over the server's FitConfig. */
  batchSize?: number;
  /** Examples to a Batch. @default collateExamples */
  collate?: (examples: E[]) => Batch;
  /** AdamW weight decay. @default 0 */
  weightDecay?: number;
}

/**
 * Trains a bertorch model on local data for each round.
 * @example
 * const client = new BertClient({ model: BertForSequenceClassification.create(cfg), examples: myExamples });
 * const update = await client.fit(globalWeights, config);   // { delta, numExamples, metrics }
 */
export class BertClient<E = Example> implements FederatedClient {
  readonly model: PreTrainedBert;
  readonly examples: readonly E[];
  #o: BertClientOptions<E>;

  constructor(o: BertClientOptions<E>) {
    if (!o || typeof o !== 'object') invalidType('{model, examples}', 'options', o);
    if (!Array.isArray(o.examples) || o.examples.length === 0) invalidType('a non-empty array of examples', 'examples', o.examples);
    for (const [k, v] of [['localEpochs', o.localEpochs], ['batchSize', o.batchSize]] as const)
      if (v !== undefined && (!Number.isInteger(v) || v < 1)) invalidRange('a positive integer', k, v);
    this.model = o.model;
    this.examples = o.examples;
    this.#o = o;
  }

  async fit(global: Weights, config: FitConfig): Promise<ClientUpdate> {
    const model = this.model;
    const epochs = this.#o.localEpochs ?? config.localEpochs;
    const batchSize = this.#o.batchSize ?? config.batchSize;
    const mu = config.proximalMu ?? 0;
    toModel(model, global);
    model.train();
    model.configureOptimizer({ lr: config.lr, weightDecay: this.#o.weightDecay ?? 0, schedule: 'constant' });
    const src = new ArraySource(this.examples, { batchSize, shuffle: true, seed: config.seed, collate: this.#o.collate });
    const pull = config.lr * mu;
    const anchor = mu > 0 ? toTensors(global, pull, model.device) : null;
    let steps = 0, lossSum = 0;
    try {
      for (let e = 0; e < epochs; e++) {
        src.setEpoch(e);
        for await (const batch of src) {
          manualSeed(mixSeed(config.seed, steps));  // dropout masks are a function of (seed, step)
          lossSum += (await model.trainStep(batch, { maxGradNorm: config.maxGradNorm })).loss;
          if (anchor) proximalPull(model, anchor, pull);
          steps++;
        }
      }
    } finally {
      if (anchor) for (const t of anchor.values()) t.dispose();
    }
    const delta = subtract(fromModel(model), global);
    return { delta, numExamples: this.examples.length, metrics: { loss: lossSum / Math.max(1, steps), steps } };
  }
}

function toTensors(w: Weights, scale: number, device: Device): Map<string, Tensor> {
  return new Map([...w].map(([k, t]) => [k, tensor(t.data.map((x) => x * scale), { shape: t.shape, dtype: 'float32', device })]));
}

/**
 * The proximal step after an AdamW step: w <- w - lr μ (w - w_global) = (1 - lr μ) w + lr μ w_global,
 * i.e. a gradient step on μ/2 ||w - w_global||² with the client's learning rate, decoupled from
 * Adam's normalisation as AdamW decouples weight decay (which is the same step towards 0).
 * `anchorScaled` holds lr μ w_global.
 */
function proximalPull(model: PreTrainedBert, anchorScaled: Map<string, Tensor>, a: number): void {
  const params = model.stateDict();
  const made: Tensor[] = [];
  try {
    const next = new Map<string, Tensor>();
    for (const [k, w] of params) {
      const kept = w.mul(1 - a);
      const pulled = kept.add(anchorScaled.get(k)!);
      made.push(kept, pulled);
      next.set(k, pulled);
    }
    model.loadStateDict(next);
  } finally {
    for (const t of [...made, ...params.values()]) t.dispose();
  }
}

/**
 * Accuracy and mean loss of a sequence classifier on examples (eval mode, no grad).
 * @example const { accuracy } = await evaluateClassifier(model, testExamples);
 */
export async function evaluateClassifier(model: PreTrainedBert, examples: readonly Example[], batchSize = 128): Promise<{ accuracy: number; loss: number }> {
  const wasTraining = model.training;
  model.eval();
  let correct = 0, lossSum = 0, n = 0;
  try {
    for await (const b of new ArraySource(examples, { batchSize })) {
      const out = await model.forward(b, { skipPadding: true });
      try {
        const logits = out.logits.toArray() as Float32Array;
        const [B, C] = out.logits.shape;
        for (let i = 0; i < B; i++) {
          let arg = 0;
          for (let c = 1; c < C; c++) if (logits[i * C + c] > logits[i * C + arg]) arg = c;
          if (BigInt(arg) === BigInt((b.labels as BigInt64Array)[i])) correct++;
        }
        if (out.loss) lossSum += (out.loss.toArray() as Float32Array)[0] * B;
        n += B;
      } finally {
        out.logits.dispose();
        out.loss?.dispose();
      }
    }
  } finally {
    model.train(wasTraining);
  }
  return { accuracy: correct / Math.max(1, n), loss: lossSum / Math.max(1, n) };
}
