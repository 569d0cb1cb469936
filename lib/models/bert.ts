/**
 * BERT models for Node: BertModel and the four HF heads, backed by one native
 * model object (native/model_binding.cc). All math runs in C++; a training
 * step is one native call on a worker thread. Calls on one model are queued
 * (SerialQueue), so overlapping awaits are safe. dispose() frees the native
 * model at once; the GC does it otherwise.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { NativeModel } from '../../binding.js';
import { native } from '../binding.js';
import { invalidRange, invalidType, TorchError, withCallSite } from '../errors.js';
import { Tensor, type Device } from '../tensor.js';
import { ARCHITECTURES, labelMaps, makeConfig, numLabelsOf, readConfig, writeConfig, type Architecture, type BertConfig, type ProblemType } from './config.js';
import { SerialQueue } from './queue.js';
import { loadStateDictFiles, writeSafetensors, type TensorRecord } from './safetensors.js';
import { mapCheckpointKeys, recordToTensor, tensorToRecord } from './state.js';

type Ids = BigInt64Array | Int32Array | Tensor;

/** One batch. Typed arrays are row-major (batch, sequence) and need `shape`. */
export interface Batch {
  inputIds: Ids;
  attentionMask?: Ids;
  tokenTypeIds?: Ids;
  /** (B) class ids, (B, T) token labels / MLM targets (-100 ignored), (B, L) multi-label or regression targets. */
  labels?: Ids | Float32Array;
  /** (B) next-sentence labels for BertForPreTraining. */
  nextSentenceLabel?: Ids;
  /** [batch, sequence]; required when inputIds is a typed array. */
  shape?: [number, number];
}

export interface ForwardOptions {
  /** Return the embeddings output and every layer's output. @default false */
  outputHiddenStates?: boolean;
  /** Return every layer's attention probabilities (uses the explicit attention path). @default false */
  outputAttentions?: boolean;
  /** Record the autograd graph, so `loss.backward()` works from JS. @default false */
  grad?: boolean;
  /** BertModel: also return `sentenceEmbedding`, the (B, C) pooled last hidden state (sentence-transformers' Pooling). */
  pooling?: 'mean' | 'cls' | 'max';
  /** With `pooling`: L2-normalise the sentence embeddings. @default false */
  normalize?: boolean;
  /**
   * Run the per-token layers on real tokens only, as training steps do: the
   * same outputs at real positions for a fraction of the work when batches
   * are padded, but the hidden states and token logits at pad positions are
   * those of a zero vector instead of HF's (which nothing should read).
   * No effect with outputHiddenStates, outputAttentions or left padding.
   * @default false
   */
  skipPadding?: boolean;
}

/**
 * In-batch-negatives training of a BertModel (sentence-transformers'
 * MultipleNegativesRankingLoss). A batch's rows with label -100 are
 * candidates; every other row is an anchor whose label is the index of its
 * positive among the candidate rows (the other candidates are its negatives).
 * forward / trainStep then return the (anchors, candidates) scores as
 * `logits` and their cross-entropy as `loss`.
 */
export interface SentenceObjective {
  /** @default 'mean' */
  pooling?: 'mean' | 'cls' | 'max';
  /** Multiplies the similarities before the softmax. @default 20 */
  scale?: number;
  /** @default 'cosine' */
  similarity?: 'cosine' | 'dot';
}

export interface ModelOutput {
  /** Task logits; for BertModel, last_hidden_state (B, T, C), or with a SentenceObjective and labels the (A, N - A) scores. */
  logits: Tensor;
  /** With ForwardOptions.pooling: (B, C) sentence embeddings. */
  sentenceEmbedding?: Tensor;
  loss?: Tensor;
  poolerOutput?: Tensor;
  seqRelationshipLogits?: Tensor;
  hiddenStates?: Tensor[];
  attentions?: Tensor[];
}

export interface OptimizerOptions {
  /** @default 5e-5 */
  lr?: number;
  /** @default [0.9, 0.999] */
  betas?: [number, number];
  /** @default 1e-8 */
  eps?: number;
  /** Decoupled weight decay; biases and LayerNorm weights get none unless decayAll. @default 0.01 */
  weightDecay?: number;
  /** Apply weight decay to every parameter, as a bare torch.optim.AdamW(model.parameters()). @default false */
  decayAll?: boolean;
  /** @default 'constant' */
  schedule?: 'constant' | 'constant_with_warmup' | 'linear' | 'cosine';
  /** @default 0 */
  warmupSteps?: number;
  /** Horizon of the linear / cosine decay. @default 0 */
  totalSteps?: number;
  /** 'auto' uses libtorch's fused AdamW (CUDA; CPU with libtorch >= 2.4) and the reference loop elsewhere. @default 'auto' */
  impl?: 'auto' | 'reference' | 'fused';
}

export interface StepOptions {
  /** Clip the global gradient L2 norm to this (0 = no clipping). @default 0 */
  maxGradNorm?: number;
  /**
   * On a NaN/inf loss or gradient norm, skip the update instead of throwing
   * (the gradients are zeroed and the step counter is not advanced). @default false
   */
  skipNonFinite?: boolean;
}

export interface ForwardBackwardOptions {
  /**
   * With a process group: all-reduce the gradients during this backward, so that
   * afterwards they are the average over ranks. Pass false for every micro-batch
   * of a gradient-accumulation window but the last (DDP's `no_sync()`);
   * optimizerStep averages after the fact whenever the last backward did not sync.
   * @default true
   */
  sync?: boolean;
}

/** Counters of the all-reduce overlapped with backward (data-parallel training). */
export interface GradReducerStats {
  /** Flat gradient buckets (about bucketBytes each, in reverse parameter order). */
  buckets: number;
  /** Backward passes whose gradients were averaged while they ran. */
  reductions: number;
  /** Buckets whose all-reduce was launched before backward returned, all steps together. */
  launchedInBackward: number;
}

export interface StepResult {
  loss: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** The learning rate this step used. */
  lr: number;
  skipped: boolean;
}

export interface LoadReport {
  /** Model parameters the checkpoint lacked (newly initialised, e.g. a new classifier). */
  missing: string[];
  /** Checkpoint tensors the model does not use. */
  unexpected: string[];
  /** Shape mismatches (an error unless ignoreMismatchedSizes). */
  mismatched: string[];
}

export interface CreateModelOptions {
  /** Seed of the weight initialisation. @default 42 */
  seed?: number;
}

export interface FromPretrainedOptions extends CreateModelOptions {
  /** Label names (sets id2label / label2id) or their count. */
  labels?: readonly string[] | number;
  problemType?: ProblemType;
  /** Re-initialise tensors whose shapes differ instead of failing. @default false */
  ignoreMismatchedSizes?: boolean;
  /** Overrides merged into config.json's values (e.g. dropout). */
  config?: Partial<BertConfig>;
}

function checkBatch(b: Batch): void {
  if (b === null || typeof b !== 'object') invalidType('a batch object', 'batch', b);
  if (!(b.inputIds instanceof Tensor) && !(b.inputIds instanceof BigInt64Array) && !(b.inputIds instanceof Int32Array))
    invalidType('a BigInt64Array, Int32Array or Tensor', 'batch.inputIds', b.inputIds);
  if (!(b.inputIds instanceof Tensor)) {
    const s = b.shape;
    if (!Array.isArray(s) || s.length !== 2 || !s.every((x) => Number.isInteger(x) && x > 0))
      invalidType('[batch, sequence]', 'batch.shape', s);
    if (s[0] * s[1] !== b.inputIds.length) invalidRange(`${s[0] * s[1]} ids (shape ${s[0]}x${s[1]})`, 'batch.inputIds', b.inputIds);
  }
}

function rawBatch(b: Batch): object {
  const h = (x: unknown) => (x instanceof Tensor ? x.handle : x);
  return { inputIds: h(b.inputIds), attentionMask: h(b.attentionMask), tokenTypeIds: h(b.tokenTypeIds), labels: h(b.labels), nextSentenceLabel: h(b.nextSentenceLabel), shape: b.shape };
}

/** The base of every BERT class. Use a subclass: `BertForSequenceClassification.fromPretrained(dir)`. */
export class PreTrainedBert implements Disposable {
  static readonly architecture: Architecture = 'BertModel';
  readonly architecture: Architecture;
  readonly config: BertConfig;
  /** Set by fromPretrained: what was missing, unexpected or mismatched. */
  loadReport?: LoadReport;
  #m: NativeModel | null;
  #q = new SerialQueue();
  #device: Device = 'cpu';

  /** @internal Use create() or fromPretrained(). */
  constructor(config: BertConfig, architecture: Architecture, seed: number) {
    // Checked here too, not only in create(): a config of absurd sizes given
    // to the constructor would build layer after layer until memory runs out.
    config = makeConfig(config);
    if (!ARCHITECTURES.includes(architecture)) invalidRange(`one of ${ARCHITECTURES.join(', ')}`, 'architecture', architecture);
    if (!Number.isSafeInteger(seed) || seed < 0) invalidRange('a non-negative integer', 'seed', seed);
    this.config = config;
    this.architecture = architecture;
    const cfg = { ...config, num_labels: numLabelsOf(config) };
    this.#m = new (native().Model)(cfg, architecture, seed);
  }

  /** A new model with HF's random initialisation. @example BertForMaskedLM.create({ ...PRESETS.mini, vocab_size: 8000 }) */
  static create<T extends PreTrainedBert>(this: new (c: BertConfig, a: Architecture, s: number) => T, config: Partial<BertConfig> = {}, opts: CreateModelOptions = {}): T {
    const arch = (this as unknown as typeof PreTrainedBert).architecture;
    return new this(makeConfig(config), arch, opts.seed ?? 42);
  }

  /**
   * Loads an HF model folder (config.json + model.safetensors or shards).
   * Heads absent from the checkpoint are initialised and listed in loadReport.missing.
   * @throws SafetensorsError for corrupt or pickle checkpoints; RangeError for a bad config.
   */
  static async fromPretrained<T extends PreTrainedBert>(this: new (c: BertConfig, a: Architecture, s: number) => T, dir: string, opts: FromPretrainedOptions = {}): Promise<T> {
    const site = new Error();
    const cls = this as unknown as typeof PreTrainedBert;
    let config = await readConfig(dir);
    if (opts.config) config = makeConfig({ ...config, ...opts.config }, path.join(dir, 'config.json'));
    if (opts.labels !== undefined) config = { ...config, ...labelMaps(opts.labels) };
    if (opts.problemType) config = { ...config, problem_type: opts.problemType };
    let arch = cls.architecture;
    if (cls === PreTrainedBert) {
      const named = config.architectures?.[0] as Architecture | undefined;
      arch = named && ARCHITECTURES.includes(named) ? named : 'BertModel';
    }
    const model = new this(config, arch, opts.seed ?? 42);
    try {
      const { tensors } = await loadStateDictFiles(dir);
      for (const [k, r] of await (model.constructor as typeof PreTrainedBert).extraRecords(dir)) tensors.set(k, r);
      try {
        model.loadReport = model.#loadRecords(tensors, opts.ignoreMismatchedSizes ?? false);
      } catch (e) {
        // Say which folder's checkpoint did not fit (SafetensorsErrors name their file already).
        if (e instanceof RangeError) e.message = `${dir}: ${e.message}`;
        throw e;
      }
    } catch (e) {
      model.dispose();
      throw withCallSite(e, site);
    }
    return model;
  }

  /**
   * Weights a model class keeps beside the folder's model.safetensors (the
   * replaced-token detector's generator), read by fromPretrained and by
   * checkpoint resume. None for BERT's own heads.
   */
  static async extraRecords(_dir: string): Promise<Map<string, TensorRecord>> {
    return new Map();
  }

  #native(): NativeModel {
    if (!this.#m) throw new TorchError('Model was disposed', 'ERR_DISPOSED');
    return this.#m;
  }
  get #n(): any { return this.#native(); }

  #loadRecords(records: Map<string, TensorRecord>, ignoreMismatched: boolean): LoadReport {
    const names: string[] = this.#n.parameterNames();
    const { mapped, ignored } = mapCheckpointKeys(records, names);
    const state: Record<string, unknown> = {};
    const made: Tensor[] = [];
    try {
      for (const [k, r] of mapped) {
        const t = recordToTensor(k, r);
        made.push(t);
        state[k] = t.handle;
      }
      const report = this.#n.loadStateDict(state) as LoadReport;
      if (report.mismatched.length && !ignoreMismatched)
        throw new RangeError(`checkpoint shapes do not match the model: ${report.mismatched.join('; ')} (pass ignoreMismatchedSizes to re-initialise them)`);
      report.unexpected.push(...ignored.filter((k) => !/position_ids|token_type_ids|decoder\./.test(k)));
      return report;
    } finally {
      for (const t of made) t.dispose();
    }
  }

  /** Writes config.json and model.safetensors (atomically) that transformers' from_pretrained loads. */
  async savePretrained(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    const state = this.stateDict();
    try {
      const records = new Map<string, TensorRecord>();
      for (const [k, t] of state) records.set(k, tensorToRecord(t));
      await writeSafetensors(path.join(dir, 'model.safetensors'), records, { format: 'pt' });
    } finally {
      for (const t of state.values()) t.dispose();
    }
    const { num_labels: _n, use_sdpa: _s, gradient_checkpointing: _g, ...rest } = this.config as Record<string, unknown>;
    await writeConfig(dir, { ...(rest as BertConfig), architectures: [this.architecture], model_type: 'bert', torch_dtype: 'float32' });
  }

  /** HF-named parameter names, in registration order. */
  parameterNames(): string[] { return this.#n.parameterNames(); }
  /** The parameters as tensors sharing storage with the model (dispose them when done). */
  stateDict(): Map<string, Tensor> {
    return new Map(Object.entries(this.#n.stateDict() as Record<string, never>).map(([k, h]) => [k, new Tensor(h)]));
  }
  /**
   * Turns training of the parameters whose HF names `match` on or off
   * (PyTorch's `p.requires_grad_(on)`): backward computes no gradient for a
   * frozen one and AdamW leaves it as it is. Returns the names it changed.
   * A weight tied to another (the MLM decoder to the word embeddings) is one
   * parameter, under the embeddings' name.
   * @example model.setTrainable(false, (n) => n.startsWith('bert.')); // train the head only
   */
  setTrainable(on: boolean, match: (name: string) => boolean = () => true): string[] {
    if (typeof on !== 'boolean') invalidType('a boolean', 'on', on);
    if (typeof match !== 'function') invalidType('a function of the parameter name', 'match', match);
    const names = this.parameterNames().filter((n) => match(n));
    this.#n.setTrainable(names, on);
    return names;
  }
  /** The HF names of the parameters that are trained (all, unless setTrainable froze some). */
  trainableNames(): string[] { return this.#n.trainable(); }
  /** Copies matching tensors into the parameters; reports missing / unexpected / mismatched names. */
  loadStateDict(state: Map<string, Tensor> | Record<string, Tensor>): LoadReport {
    const entries = state instanceof Map ? [...state] : Object.entries(state);
    return this.#n.loadStateDict(Object.fromEntries(entries.map(([k, t]) => [k, t.handle])));
  }
  /** Current gradients by parameter name (parameters without a gradient are absent). */
  grads(): Map<string, Tensor> {
    return new Map(Object.entries(this.#n.grads() as Record<string, never>).map(([k, h]) => [k, new Tensor(h)]));
  }
  /** Sets gradients by parameter name (copies), e.g. to test or drive the optimizer alone. */
  setGrads(grads: Map<string, Tensor>): void {
    this.#n.setGrads(Object.fromEntries([...grads].map(([k, t]) => [k, t.handle])));
  }
  /** Number of parameters. */
  get numParameters(): number { return this.#n.describe().numParameters; }
  get device(): Device { return this.#device; }
  get training(): boolean { return this.#n.describe().training; }

  /** Dropout on (train) or off (eval). Returns this. */
  train(on = true): this { this.#n.setTraining(on); return this; }
  eval(): this { return this.train(false); }
  /**
   * Data-parallel training: gradients are averaged over `group` (bucketed
   * all-reduce, ~25 MB flat buckets) before clipping. In trainStep and in a
   * syncing forwardBackward, each bucket's all-reduce starts during backward as
   * soon as its gradients are ready (as PyTorch DDP does); optimizerStep averages
   * after backward when the gradients changed since the last sync. Pass null to
   * detach. Call broadcastParameters() once at start.
   */
  setProcessGroup(group: { handle: unknown } | null, { bucketBytes = 25 << 20 } = {}): this {
    this.#n.setProcessGroup(group ? group.handle : null, bucketBytes);
    return this;
  }
  /** With a process group: counters of the overlapped all-reduce; null without one. */
  get gradReducerStats(): GradReducerStats | null { return this.#n.describe().gradReducer ?? null; }
  /** Copies rank `src`'s parameters to every rank (DDP's start-up broadcast). */
  broadcastParameters(src = 0): Promise<void> {
    return this.#call((m) => m.broadcastParameters(src));
  }
  /**
   * Mixed precision for forward and backward (torch.autocast): 'bfloat16' (CUDA or
   * CPU) or 'float16' (CUDA); null turns it off. Parameters and AdamW stay float32.
   * @default null
   */
  autocast(dtype: 'bfloat16' | 'float16' | null): this {
    if (dtype !== null && dtype !== 'bfloat16' && dtype !== 'float16') invalidRange("'bfloat16', 'float16' or null", 'dtype', dtype);
    this.#n.setAutocast(dtype);
    return this;
  }
  /**
   * CUDA graphs for trainStep (torch.cuda.graph's whole-step capture): for
   * batches of one fixed shape, the 4th step is captured and later ones
   * replay forward, backward, clipping and AdamW in one launch. Needs the
   * model on CUDA, the fused AdamW and no process group; MLM then scores every
   * position (no data-dependent shapes). A new batch shape warms up and
   * captures again.
   * @default false
   */
  cudaGraphs(on = true): this {
    if (typeof on !== 'boolean') invalidType('a boolean', 'on', on);
    this.#n.setCudaGraphs(on);
    return this;
  }
  /**
   * Trains this BertModel's sentence embeddings with in-batch negatives (see
   * {@link SentenceObjective}); null turns it off. Returns this.
   * @throws RangeError for an option out of range; TorchValueError for a model that is not a BertModel.
   * @example model.sentenceObjective({ pooling: 'mean', scale: 20 });
   */
  sentenceObjective(o: SentenceObjective | null): this {
    if (o === null) {
      this.#n.setObjective(null);
      return this;
    }
    if (typeof o !== 'object') invalidType('an objective object or null', 'objective', o);
    if (o.pooling !== undefined && !['mean', 'cls', 'max'].includes(o.pooling)) invalidRange("'mean', 'cls' or 'max'", 'pooling', o.pooling);
    if (o.scale !== undefined && (typeof o.scale !== 'number' || !Number.isFinite(o.scale) || o.scale <= 0)) invalidRange('a finite number > 0', 'scale', o.scale);
    if (o.similarity !== undefined && o.similarity !== 'cosine' && o.similarity !== 'dot') invalidRange("'cosine' or 'dot'", 'similarity', o.similarity);
    this.#n.setObjective({ pooling: o.pooling ?? 'mean', scale: o.scale ?? 20, similarity: o.similarity ?? 'cosine' });
    return this;
  }
  /** How many training steps were replayed from a CUDA graph (see cudaGraphs()). */
  get graphReplays(): number { return this.#n.describe().graphReplays; }
  /** Moves parameters (and optionally casts them); call before configureOptimizer. */
  to(device: Device, dtype?: 'float32' | 'float16' | 'bfloat16'): this {
    this.#n.to(device, dtype);
    this.#device = device;
    return this;
  }

  #call<T>(fn: (m: any) => Promise<T>): Promise<T> {
    const site = new Error();
    return this.#q.run(() => fn(this.#n)).catch((e) => { throw withCallSite(e, site); });
  }

  /** Runs the model (no grad unless opts.grad) on a worker thread. */
  forward(batch: Batch, opts: ForwardOptions = {}): Promise<ModelOutput> {
    try {
      checkBatch(batch);
      if (opts.pooling !== undefined && !['mean', 'cls', 'max'].includes(opts.pooling)) invalidRange("'mean', 'cls' or 'max'", 'pooling', opts.pooling);
    } catch (e) { return Promise.reject(e); }
    return this.#call(async (m) => {
      const raw = await m.forward(rawBatch(batch), opts);
      const w = (h: any) => (h ? new Tensor(h) : undefined);
      return {
        logits: new Tensor(raw.logits),
        loss: w(raw.loss),
        poolerOutput: w(raw.poolerOutput),
        sentenceEmbedding: w(raw.sentenceEmbedding),
        seqRelationshipLogits: w(raw.seqRelationshipLogits),
        hiddenStates: raw.hiddenStates?.map((h: any) => new Tensor(h)),
        attentions: raw.attentions?.map((h: any) => new Tensor(h)),
      };
    });
  }

  /** Sets up AdamW and the LR schedule for trainStep / optimizerStep. */
  configureOptimizer(o: OptimizerOptions = {}): void {
    const num = (v: unknown, name: string, min = 0) => {
      if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < min)) invalidRange(`a finite number >= ${min}`, name, v);
    };
    num(o.lr, 'lr'); num(o.eps, 'eps'); num(o.weightDecay, 'weightDecay'); num(o.warmupSteps, 'warmupSteps'); num(o.totalSteps, 'totalSteps');
    if (o.betas !== undefined && (!Array.isArray(o.betas) || o.betas.length !== 2 || !o.betas.every((b) => typeof b === 'number' && b >= 0 && b < 1)))
      invalidRange('two numbers in [0, 1)', 'betas', o.betas);
    if (o.schedule !== undefined && !['constant', 'constant_with_warmup', 'linear', 'cosine'].includes(o.schedule))
      invalidRange("'constant', 'constant_with_warmup', 'linear' or 'cosine'", 'schedule', o.schedule);
    this.#n.configureOptimizer({
      lr: o.lr ?? 5e-5, beta1: o.betas?.[0] ?? 0.9, beta2: o.betas?.[1] ?? 0.999, eps: o.eps ?? 1e-8,
      weightDecay: o.weightDecay ?? 0.01, decayAll: o.decayAll ?? false, schedule: o.schedule ?? 'constant',
      warmupSteps: o.warmupSteps ?? 0, totalSteps: o.totalSteps ?? 0, impl: o.impl ?? 'auto',
    });
  }

  /**
   * Sets the base learning rate of the configured optimizer, keeping its
   * moments and step count; the native schedule's factor still multiplies it
   * (the Trainer drives time-budgeted schedules this way, over 'constant').
   * Call between steps.
   * @throws RangeError (ERR_INVALID_ARG) for a negative or non-finite lr; Error before configureOptimizer.
   */
  setLearningRate(lr: number): void {
    if (typeof lr !== 'number' || !Number.isFinite(lr) || lr < 0) invalidRange('a finite number >= 0', 'lr', lr);
    this.#n.setLearningRate(lr);
  }

  /** Forward, loss, backward, clip, AdamW, schedule: one native call. */
  trainStep(batch: Batch, o: StepOptions = {}): Promise<StepResult> {
    try { checkBatch(batch); } catch (e) { return Promise.reject(e); }
    return this.#call((m) => m.trainStep(rawBatch(batch), o.maxGradNorm ?? 0, o.skipNonFinite ?? false));
  }

  /**
   * Forward + backward only: adds d(loss * lossScale) to the gradients (gradient
   * accumulation). Resolves to the loss. See ForwardBackwardOptions.sync for
   * data-parallel training.
   */
  forwardBackward(batch: Batch, lossScale = 1, o: ForwardBackwardOptions = {}): Promise<number> {
    try {
      checkBatch(batch);
      if (o.sync !== undefined && typeof o.sync !== 'boolean') invalidType('a boolean', 'sync', o.sync);
    } catch (e) { return Promise.reject(e); }
    return this.#call((m) => m.forwardBackward(rawBatch(batch), lossScale, o.sync ?? true));
  }

  /**
   * Clip + AdamW + schedule with the accumulated gradients, then zero them. A
   * non-finite gradient norm (NaN, or inf from an overflow), or a non-finite
   * `loss` (the accumulated window's, when you pass it), throws, or with
   * `skipNonFinite` skips the update (`skipped: true`); the gradients are
   * zeroed either way. With a process group every rank takes the same decision.
   */
  optimizerStep(o: StepOptions & { loss?: number } = {}): Promise<{ gradNorm: number; lr: number; skipped: boolean }> {
    try {
      if (o.loss !== undefined && typeof o.loss !== 'number') invalidType('a number', 'loss', o.loss);
    } catch (e) { return Promise.reject(e); }
    return this.#call((m) => m.optimizerStep(o.maxGradNorm ?? 0, o.skipNonFinite ?? false, o.loss));
  }

  /** Sets every gradient to None. */
  zeroGrad(): void { this.#n.zeroGrad(); }

  /** AdamW state (step, first and second moments by parameter name), or null before configureOptimizer. */
  optimizerState(): { step: number; expAvg: Map<string, Tensor>; expAvgSq: Map<string, Tensor> } | null {
    const s = this.#n.optimizerState();
    if (!s) return null;
    const wrap = (o: Record<string, never>) => new Map(Object.entries(o).map(([k, h]) => [k, new Tensor(h)]));
    return { step: s.step, expAvg: wrap(s.expAvg), expAvgSq: wrap(s.expAvgSq) };
  }
  /** Restores optimizerState() output (after configureOptimizer). */
  loadOptimizerState(s: { step: number; expAvg: Map<string, Tensor>; expAvgSq: Map<string, Tensor> }): void {
    const raw = (m: Map<string, Tensor>) => Object.fromEntries([...m].map(([k, t]) => [k, t.handle]));
    this.#n.loadOptimizerState({ step: s.step, expAvg: raw(s.expAvg), expAvgSq: raw(s.expAvgSq) });
  }
  /** The optimizer step count and the LR the next step will use. */
  get optimizerStepCount(): number { return this.#n.describe().optimizerStep; }
  get lr(): number { return this.#n.describe().lr; }

  /** Frees the native model; queued calls fail with ERR_DISPOSED. Idempotent. */
  dispose(): void {
    this.#m?.dispose();
    this.#m = null;
  }
  [Symbol.dispose](): void { this.dispose(); }
}

/** The bare encoder: last_hidden_state and pooler_output. */
export class BertModel extends PreTrainedBert { static override readonly architecture: Architecture = 'BertModel'; }
/** Masked-language-model head (decoder tied to the word embeddings). */
export class BertForMaskedLM extends PreTrainedBert { static override readonly architecture: Architecture = 'BertForMaskedLM'; }
/** Pooled [CLS] -> dropout -> classifier; single-label, multi-label or regression. */
export class BertForSequenceClassification extends PreTrainedBert { static override readonly architecture: Architecture = 'BertForSequenceClassification'; }
/** Per-token classifier (NER); labels -100 are ignored. */
export class BertForTokenClassification extends PreTrainedBert { static override readonly architecture: Architecture = 'BertForTokenClassification'; }
/** MLM + next-sentence prediction heads. */
export class BertForPreTraining extends PreTrainedBert { static override readonly architecture: Architecture = 'BertForPreTraining'; }
