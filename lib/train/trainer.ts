/**
 * Trainer: the fine-tuning / pretraining loop over a PreTrainedBert (HF
 * Trainer's behaviour, trimmed). Every optimizer step is one native call
 * (trainStep), or one forwardBackward per accumulated batch + optimizerStep;
 * the loop itself, evaluation, logging and checkpoints run on the JS thread
 * between steps. The model is owned by the caller: fit() never disposes it.
 *
 * Determinism: dropout draws from libtorch's global generator, which any
 * other tensor op may also advance. fit() re-seeds it with manualSeed(seed +
 * step) before every optimizer step, so the random stream of step N depends
 * only on (seed, N), not on what ran before (evaluation, another model, a
 * process restart). Together with the data position and AdamW state saved in
 * checkpoints, that makes a resumed run repeat the uninterrupted one exactly.
 */
import { emptyCpuCache, info } from '../info.js';
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { invalidRange, invalidType, TorchValueError } from '../errors.js';
import { PreTrainedBert, type Batch } from '../models/bert.js';
import { confusionMatrix, classificationReport } from '../metrics/index.js';
import { manualSeed } from '../tensor.js';
import { batchRows, labelsToArray, lossTerms } from './batch-utils.js';
import type { LogRecord, StepRecord, TrainerState } from './callbacks.js';
import { listCheckpoints, loadCheckpointInto, loadWeightsInto, readTrainerState, rotateCheckpoints, saveCheckpoint } from './checkpoint.js';
import { resolveOptions, type ResolvedOptions, type Strategy, type TrainerOptions } from './options.js';
import { argmaxRows, defaultMetrics, flattenPredictions, type EvalPrediction, type PredictionBatch } from './predictions.js';
import { Progress } from './progress.js';
import { scheduleFactor } from './schedule.js';
import { gatherPredictions, globalStep, unpaddedShards } from './distributed.js';
import { writeReport, type ReportEvaluation } from './report.js';
import { isBatchSource, type BatchSource, type EvalData } from './source.js';

/**
 * A NaN or infinite training loss, or a finite loss whose gradient norm is not
 * finite (`gradNorm` set: an overflow in backward); `step` is the optimizer
 * step (1-based) that produced it. The update was not applied.
 */
export class NonFiniteLossError extends TorchValueError {
  readonly step: number;
  readonly loss: number;
  readonly gradNorm?: number;
  /** The non-finite value was on another rank (this rank's loss and norm were finite). */
  readonly otherRank: boolean;
  constructor(step: number, loss: number, epoch: number, gradNorm?: number, otherRank = false) {
    const what = otherRank ? `loss or gradient norm on another rank (loss ${loss} here)`
      : gradNorm === undefined ? `loss (${loss})` : `gradient norm (${gradNorm}; loss ${loss})`;
    super(`non-finite ${what} at training step ${step} (epoch ${epoch}): lower the learning rate, check the inputs ` +
      "or labels of this step's batches, or pass onNonFinite: 'skip' to skip such updates", 'ERR_NON_FINITE_LOSS');
    this.step = step;
    this.loss = loss;
    if (gradNorm !== undefined) this.gradNorm = gradNorm;
    this.otherRank = otherRank;
  }
}

export interface FitOptions {
  /** Data evaluated every evalSteps / each epoch (and for the report's classification report). */
  evalData?: EvalData;
  /** A checkpoint folder to continue from, or true for the newest checkpoint in outputDir. */
  resume?: string | boolean;
  /** Aborting stops training after the current step and saves a checkpoint (when outputDir is set). */
  signal?: AbortSignal;
}

/** 'max_time': the time budget (maxTime) ran out. */
export type StopReason = 'completed' | 'aborted' | 'early_stopping' | 'callback' | 'max_time';

export interface FitResult {
  globalStep: number;
  epoch: number;
  /**
   * Mean training loss over the steps this call ran (skipped steps excluded).
   * Each step's loss is over the global batch: with a process group, the
   * ranks' losses weighted by their loss terms, as one process would compute it.
   */
  trainLoss: number;
  /** Training examples per second over all ranks (HF `train_samples_per_second`). */
  samplesPerSecond: number;
  stopReason: StopReason;
  bestMetric: number | null;
  bestCheckpoint: string | null;
  /** The newest checkpoint written, if any. */
  lastCheckpoint: string | null;
  /** runs/<runName>/ when runName is set. */
  runDir?: string;
  /** Seconds this call took. */
  runtime: number;
  /** Whether forward and backward ran under bf16 autocast (TrainerOptions.bf16, or its default for the device). */
  bf16: boolean;
  state: TrainerState;
}

export interface PredictionOutput {
  batches: PredictionBatch[];
  /** Argmax of every logits row, in order: one per example (sequence heads) or per token (token heads). */
  predictions: Int32Array;
  /** The labels of the same rows (-100 kept), when the data had labels. */
  labels?: Int32Array;
  /** `test_loss` and the metrics, when the data had labels. */
  metrics: Record<string, number>;
}

/**
 * Trains, evaluates and predicts with a BERT model.
 * @example
 * const model = BertForSequenceClassification.create({ ...PRESETS.tiny, vocab_size: 8000 }, { seed: 1 });
 * const trainer = new Trainer(model, { epochs: 3, lr: 5e-4, outputDir: 'out', saveSteps: 100, runName: 'intents' });
 * const result = await trainer.fit(trainSource, { evalData: testSource });
 * console.log(await trainer.evaluate(testSource)); // { eval_loss, eval_accuracy, eval_f1, ... }
 */
export class Trainer {
  readonly model: PreTrainedBert;
  readonly options: ResolvedOptions;
  /** The state of the last (or current) fit. */
  state: TrainerState | null = null;

  /** @throws TypeError / RangeError (ERR_INVALID_ARG) for a bad option. */
  constructor(model: PreTrainedBert, options: TrainerOptions = {}) {
    if (!(model instanceof PreTrainedBert)) invalidType('a bertorch model (PreTrainedBert)', 'model', model);
    this.model = model;
    this.options = resolveOptions(options);
  }

  /** runs/<runName> (undefined without runName). */
  get runDir(): string | undefined {
    return this.options.runName ? path.join(this.options.runsDir, this.options.runName) : undefined;
  }

  /**
   * Trains on `train` for `epochs` (or `maxSteps`) optimizer steps.
   * @throws NonFiniteLossError (ERR_NON_FINITE_LOSS) on a NaN/inf loss unless onNonFinite is 'skip';
   *   TypeError / RangeError (ERR_INVALID_ARG) for bad arguments; ERR_NO_CHECKPOINT for a bad resume folder.
   */
  async fit(train: BatchSource, fo: FitOptions = {}): Promise<FitResult> {
    return new FitRun(this, train, fo).run();
  }

  /**
   * Loss and metrics (computeMetrics, or accuracy and macro P/R/F1) over `data`, with dropout off.
   * With `processGroup` this is collective: every rank calls it with its shard and gets the global metrics.
   * Keys are prefixed: `eval_loss`, `eval_accuracy`, ...
   */
  async evaluate(data: EvalData, { prefix = 'eval' }: { prefix?: string } = {}): Promise<Record<string, number>> {
    return this.#metrics(await this.collect(data), prefix);
  }

  /** Logits, argmax predictions and (with labels) `test_` metrics over `data`. */
  async predict(data: EvalData, { prefix = 'test' }: { prefix?: string } = {}): Promise<PredictionOutput> {
    const p = await this.collect(data, { keepAllRows: true });
    const predictions: number[] = [];
    const labels: number[] = [];
    let hasLabels = true;
    for (const b of p.batches) {
      predictions.push(...argmaxRows(b.logits, b.shape[b.shape.length - 1]));
      if (b.labels && !(b.labels instanceof Float32Array)) labels.push(...b.labels);
      else hasLabels = false;
    }
    return {
      batches: p.batches,
      predictions: Int32Array.from(predictions),
      labels: hasLabels && p.batches.length ? Int32Array.from(labels) : undefined,
      metrics: hasLabels && p.batches.length ? this.#metrics(p, prefix) : {},
    };
  }

  #metrics(p: EvalPrediction, prefix: string): Record<string, number> {
    const metrics = (this.options.computeMetrics ?? defaultMetrics)(p);
    const out: Record<string, number> = { [`${prefix}_loss`]: p.loss };
    for (const [k, v] of Object.entries(metrics)) out[`${prefix}_${k}`] = v;
    return out;
  }

  /**
   * Runs the model over `data` with dropout off and copies out logits and labels.
   * For masked-LM heads only the scored (masked) rows are kept unless keepAllRows.
   */
  async collect(data: EvalData, { keepAllRows = false } = {}): Promise<EvalPrediction> {
    if (data === null || typeof data !== 'object' || (!(Symbol.asyncIterator in data) && !(Symbol.iterator in data)))
      invalidType('a BatchSource or an iterable of batches', 'data', data);
    const model = this.model;
    const mlm = model.architecture === 'BertForMaskedLM' || model.architecture === 'BertForPreTraining';
    const pg = this.options.processGroup;
    // Gathered evaluation counts each example once: a DataLoader's shards are
    // padded by repeating examples (as DistributedSampler's), read here without.
    if (pg) data = unpaddedShards(data);
    const wasTraining = model.training;
    const batches: PredictionBatch[] = [];
    let lossSum = 0;
    let terms = 0;
    model.eval();
    try {
      if (isBatchSource(data)) data.setEpoch(0);
      for await (const batch of data as AsyncIterable<Batch>) {
        const out = await model.forward(batch, { skipPadding: true });
        const labels = labelsToArray(batch.labels);
        let pb: PredictionBatch;
        try {
          pb = { logits: out.logits.toArray() as Float32Array, shape: out.logits.shape, labels };
          if (out.loss) {
            const n = lossTerms(batch);
            lossSum += Number(out.loss.item()) * n;
            terms += n;
          }
        } finally {
          for (const t of [out.logits, out.loss, out.poolerOutput, out.seqRelationshipLogits]) t?.dispose();
        }
        if (mlm && !keepAllRows && labels instanceof Int32Array) pb = scoredRows(pb, labels);
        batches.push(pb);
      }
    } finally {
      model.train(wasTraining);
    }
    const id2label = model.config.id2label;
    const labelNames = id2label ? Object.keys(id2label).sort((a, b) => +a - +b).map((k) => id2label[k]) : undefined;
    const local = { batches, loss: terms ? lossSum / terms : NaN, architecture: model.architecture, labelNames };
    return pg ? gatherPredictions(pg, local, terms) : local;
  }
}

/** Keeps the logits rows whose label is scored (MLM: the masked tokens), as an (R, V) batch. */
function scoredRows(b: PredictionBatch, labels: Int32Array): PredictionBatch {
  const v = b.shape[b.shape.length - 1];
  const rows: number[] = [];
  for (let i = 0; i < labels.length; i++) if (labels[i] !== -100) rows.push(i);
  const logits = new Float32Array(rows.length * v);
  rows.forEach((r, j) => logits.set(b.logits.subarray(r * v, (r + 1) * v), j * v));
  return { logits, shape: [rows.length, v], labels: Int32Array.from(rows, (r) => labels[r]) };
}

/** The native step's refusal as a NonFiniteLossError, or undefined for any other error. */
function nonFiniteError(e: unknown, step: number, epoch: number): NonFiniteLossError | undefined {
  if (!(e instanceof TorchValueError)) return undefined;
  // libtorch prints inf, -inf and nan, which Number() reads as NaN.
  const num = (s: string) => (s === 'inf' ? Infinity : s === '-inf' ? -Infinity : Number(s));
  const loss = /non-finite loss \(([^)]*)\)/.exec(e.message);
  if (loss) return new NonFiniteLossError(step, num(loss[1]), epoch);
  const norm = /non-finite gradient norm \(([^;]*); loss ([^)]*)\)/.exec(e.message);
  if (norm) return new NonFiniteLossError(step, num(norm[2]), epoch, num(norm[1]));
  const other = /non-finite loss or gradient norm on another rank \(loss ([^ )]*) here\)/.exec(e.message);
  return other ? new NonFiniteLossError(step, num(other[1]), epoch, undefined, true) : undefined;
}

/** One call of fit(): the loop and its bookkeeping. */
class FitRun {
  readonly t: Trainer;
  readonly o: ResolvedOptions;
  readonly model: PreTrainedBert;
  readonly train: BatchSource;
  readonly fo: FitOptions;
  readonly evalStrategy: Strategy;
  readonly stepsPerEpoch: number;
  readonly maxSteps: number;
  readonly numEpochs: number;
  state!: TrainerState;
  progress!: Progress;
  stopReason: StopReason | null = null;
  lastSaved = -1;
  lastEval = -1;
  lastCheckpoint: string | null = null;
  bf16 = false;
  // Since the last log record:
  logLoss = 0;
  logSteps = 0;
  logGradNorm = 0;
  // Over this call:
  runLoss = 0;
  runSteps = 0;
  runSamples = 0;
  // Loss terms and examples of the step that just ran (this rank's).
  stepTerms = 0;
  stepRows = 0;
  started = 0;
  runtimeBefore = 0;

  constructor(t: Trainer, train: BatchSource, fo: FitOptions) {
    if (!isBatchSource(train)) invalidType('a BatchSource (length, setEpoch, state, resume, async iterator)', 'train', train);
    if (train.length < 1) invalidRange('a source with at least one batch', 'train.length', train.length);
    if (fo === null || typeof fo !== 'object') invalidType('an options object', 'fitOptions', fo);
    if (fo.signal !== undefined && !(fo.signal instanceof AbortSignal)) invalidType('an AbortSignal', 'signal', fo.signal);
    this.t = t;
    this.o = t.options;
    this.model = t.model;
    this.train = train;
    this.fo = fo;
    this.evalStrategy = this.o.evalStrategy ?? (fo.evalData ? 'epoch' : 'no');
    if (this.evalStrategy !== 'no' && !fo.evalData) invalidType(`evalData (evalStrategy is '${this.evalStrategy}')`, 'evalData', fo.evalData);
    if (this.o.earlyStoppingPatience && this.evalStrategy === 'no') invalidRange('evaluation (evalData) with earlyStoppingPatience', 'evalStrategy', 'no');
    this.stepsPerEpoch = Math.ceil(train.length / this.o.gradientAccumulationSteps);
    // A time budget cycles the data until it runs out (maxSteps still bounds it).
    const timed = this.o.maxTime !== undefined;
    this.maxSteps = this.o.maxSteps ?? (timed ? Infinity : this.o.epochs * this.stepsPerEpoch);
    this.numEpochs = this.o.maxSteps ? Math.ceil(this.maxSteps / this.stepsPerEpoch) : timed ? Infinity : this.o.epochs;
    // Schedules on progress in [0, 1] are driven from here: setLearningRate before each step.
    this.jsSchedule = timed || this.o.schedule === 'one_cycle';
  }

  readonly jsSchedule: boolean;

  /** Progress of the schedule in [0, 1]: elapsed / maxTime, or the steps done / maxSteps. */
  progressFraction(): number {
    const { o } = this;
    if (o.maxTime !== undefined) return Math.min(1, this.runtime() / o.maxTime);
    return this.state.global_step / this.maxSteps;
  }

  freshState(): TrainerState {
    return {
      global_step: 0, epoch: 0, max_steps: finiteOr(this.maxSteps, -1), num_train_epochs: finiteOr(this.numEpochs, -1),
      logging_steps: this.o.loggingSteps, eval_steps: this.o.evalSteps ?? null, save_steps: this.o.saveSteps ?? null,
      train_batch_size: (this.train as { batchSize?: number }).batchSize ?? null,
      best_metric: null, best_model_checkpoint: null, best_step: null, log_history: [],
      data_position: { epoch: 0, index: 0 }, seed: this.o.seed, patience_counter: 0, skipped_steps: 0, train_runtime: 0,
    };
  }

  async run(): Promise<FitResult> {
    const { o, model } = this;
    this.started = performance.now();
    const warmupSteps = o.warmupSteps || Math.ceil(o.warmupRatio * this.maxSteps);
    // Device and precision before the optimizer: AdamW's state lives with the parameters.
    const pg = o.processGroup;
    // Under NCCL each rank trains on its own GPU, cuda:LOCAL_RANK.
    const device = o.device !== 'auto' ? o.device : pg?.backend === 'nccl' ? pg.device : info().cudaAvailable ? 'cuda' : 'cpu';
    if (pg?.backend === 'nccl' && !device.startsWith('cuda'))
      invalidRange("a CUDA device with an NCCL process group ('gloo' reduces CPU tensors)", 'device', device);
    if (model.device !== device && !(device === 'cuda' && model.device.startsWith('cuda'))) model.to(device);
    this.bf16 = o.bf16 ?? device !== 'cpu';
    model.autocast(this.bf16 ? 'bfloat16' : null);
    model.cudaGraphs(o.cudaGraphs);
    if (o.processGroup) model.setProcessGroup(o.processGroup);
    // A schedule driven from JS runs the native one as 'constant' and sets its lr before each step.
    const native = this.jsSchedule ? { schedule: 'constant' as const, warmupSteps: 0, totalSteps: 0 } : { schedule: o.schedule as 'linear', warmupSteps, totalSteps: this.maxSteps };
    model.configureOptimizer({ lr: o.lr, betas: o.betas, eps: o.eps, weightDecay: o.weightDecay, ...native });
    await this.restore();
    // Every rank starts from rank 0's weights (a resumed run restored the same checkpoint everywhere).
    if (o.processGroup) await model.broadcastParameters(0);
    this.t.state = this.state;
    await this.openRunLog();
    this.progress = new Progress(this.isMain ? o.progress : 'none', o.logStream, this.maxSteps, o.runName ?? 'train');
    if (o.maxTime !== undefined) this.progress.budget(o.maxTime, () => this.runtime());
    this.progress.start(this.state.global_step);
    model.train();
    try {
      await this.loop();
      await this.finish();
    } finally {
      this.progress.end();
      // The step's freed activations were kept for the next step; a service goes on without them.
      emptyCpuCache();
    }
    return this.result();
  }

  async restore(): Promise<void> {
    const { fo, o } = this;
    let dir = typeof fo.resume === 'string' ? fo.resume : undefined;
    if (fo.resume === true) {
      if (!o.outputDir) invalidType('outputDir (resume: true looks for checkpoints there)', 'outputDir', o.outputDir);
      const all = await listCheckpoints(o.outputDir);
      if (!all.length) throw Object.assign(new Error(`resume: true but ${o.outputDir} holds no checkpoint-<step> folder`), { code: 'ERR_NO_CHECKPOINT' });
      dir = all[all.length - 1].dir;
    }
    this.state = this.freshState();
    if (!dir) {
      this.train.setEpoch(0);
      return;
    }
    const saved = await readTrainerState(dir);
    await loadCheckpointInto(this.model, dir);
    this.state = { ...this.freshState(), ...saved, max_steps: finiteOr(this.maxSteps, -1), num_train_epochs: finiteOr(this.numEpochs, -1) };
    this.runtimeBefore = saved.train_runtime ?? 0;
    this.train.resume(saved.data_position);
    this.lastSaved = saved.global_step;
    this.lastCheckpoint = dir;
    const lastEval = [...saved.log_history].reverse().find((r) => Object.keys(r).some((k) => k.startsWith('eval_')));
    if (lastEval) this.lastEval = lastEval.step;
  }

  async loop(): Promise<void> {
    const { train, o, state } = this;
    const accum = o.gradientAccumulationSteps;
    while (!this.stopReason) {
      const { epoch } = train.state();
      if (state.global_step >= this.maxSteps || epoch >= this.numEpochs) {
        this.stopReason = 'completed';
        break;
      }
      if (o.maxTime !== undefined && this.runtime() >= o.maxTime) {
        this.stopReason = 'max_time';  // a resumed run whose budget was already spent
        break;
      }
      let window: Batch[] = [];
      for await (const batch of train) {
        window.push(batch);
        if (window.length < accum && train.state().index < train.length) continue;
        const rec = await this.step(window, epoch);
        window = [];
        state.data_position = train.state();
        await this.afterStep(rec);
        if (this.stopReason) return;
        if (state.global_step >= this.maxSteps) {
          // The last step of an epoch still gets the epoch-end evaluation and save below.
          if (train.state().index < train.length) {
            this.stopReason = 'completed';
            return;
          }
          break;
        }
      }
      // End of the epoch: a checkpoint saved here resumes at the next epoch's start.
      state.data_position = { epoch: epoch + 1, index: 0 };
      if (this.evalStrategy === 'epoch' && this.lastEval !== state.global_step) await this.evaluate();
      if (o.saveStrategy === 'epoch' && this.lastSaved !== state.global_step) await this.save();
      if (this.stopReason) return;
      train.setEpoch(epoch + 1);
    }
  }

  /** One optimizer step over the batches of one accumulation window. */
  async step(window: Batch[], epoch: number): Promise<StepRecord> {
    const { model, o } = this;
    const step = this.state.global_step + 1;
    const skip = o.onNonFinite === 'skip';
    // Dropout's random stream for this step depends only on (seed, step): see the file header.
    manualSeed(o.seed + this.state.global_step);
    if (this.jsSchedule) model.setLearningRate(o.lr * scheduleFactor(o.schedule, this.progressFraction(), o.warmupRatio));
    // Loss terms weight each rank's loss in the global one; counting them reads
    // the labels (a device copy for tensor labels), so only with a process group.
    this.stepTerms = o.processGroup ? window.reduce((sum, b) => sum + lossTerms(b), 0) : 0;
    this.stepRows = window.reduce((sum, b) => sum + batchRows(b), 0);
    if (window.length === 1) {
      try {
        const r = await model.trainStep(window[0], { maxGradNorm: o.maxGradNorm, skipNonFinite: skip });
        return { step, ...r };
      } catch (e) {
        throw nonFiniteError(e, step, epoch) ?? e;
      }
    }
    // Weight each batch's mean loss by its share of the window's loss terms, so the
    // accumulated gradient is the gradient of the mean over the whole window.
    const terms = window.map(lossTerms);
    const total = terms.reduce((a, b) => a + b, 0);
    if (total === 0) invalidRange('batches with labels to train on', `the batches of step ${step}`, window.length);
    // With a process group, only the window's last backward all-reduces (DDP's no_sync for the others).
    let last = terms.length - 1;
    while (terms[last] === 0) last--;
    // A non-finite micro-batch does not end the window early: with a process
    // group the other ranks' backward all-reduce and step decision need this
    // rank's too. optimizerStep gets the window's loss and decides for all.
    let loss = 0;
    for (let i = 0; i < window.length; i++) {
      if (terms[i] === 0) continue;
      const w = terms[i] / total;
      loss += (await model.forwardBackward(window[i], w, { sync: i === last })) * w;
    }
    try {
      const r = await model.optimizerStep({ maxGradNorm: o.maxGradNorm, skipNonFinite: skip, loss });
      return { step, loss, lr: r.lr, gradNorm: r.gradNorm, skipped: r.skipped };
    } catch (e) {
      throw nonFiniteError(e, step, epoch) ?? e;
    }
  }

  async afterStep(rec: StepRecord): Promise<void> {
    const { o, state } = this;
    // Every figure below (progress, logs, callbacks, trainLoss) is the global
    // batch's: HF's Trainer reduces the loss over processes before logging it.
    const pg = o.processGroup;
    const global = pg ? await globalStep(pg, rec.skipped ? NaN : rec.loss, this.stepTerms, this.stepRows) : { loss: rec.loss, rows: this.stepRows };
    if (!rec.skipped) rec = { ...rec, loss: global.loss };
    this.runSamples += global.rows;
    state.global_step = rec.step;
    state.epoch = rec.step / this.stepsPerEpoch;
    if (rec.skipped) {
      state.skipped_steps++;
      const what = !Number.isFinite(rec.loss) ? `loss (${rec.loss})` : !Number.isFinite(rec.gradNorm) ? `gradient norm (${rec.gradNorm})` : 'loss or gradient norm on another rank';
      this.progress.print(`[${o.runName ?? 'train'}] step ${rec.step}: non-finite ${what}, update skipped`);
    } else {
      this.logLoss += rec.loss; this.logSteps++; this.logGradNorm += rec.gradNorm;
      this.runLoss += rec.loss; this.runSteps++;
    }
    this.progress.update(rec.step, rec.loss, rec.lr);
    if (rec.step % o.loggingSteps === 0 || rec.step === this.maxSteps) await this.logTrain(rec);
    await this.emit('onStepEnd', { step: rec });
    if (this.evalStrategy === 'steps' && rec.step % o.evalSteps! === 0) await this.evaluate();
    if (o.saveStrategy === 'steps' && rec.step % o.saveSteps! === 0) await this.save();
    if (this.fo.signal?.aborted && !this.stopReason) this.stopReason = 'aborted';
    if (o.maxTime !== undefined && !this.stopReason && this.runtime() >= o.maxTime) {
      this.stopReason = 'max_time';
      if (rec.step % o.loggingSteps !== 0) await this.logTrain(rec);
      this.progress.print(`[${o.runName ?? 'train'}] time budget of ${o.maxTime} s reached at step ${rec.step}`);
    }
  }

  async logTrain(rec: StepRecord): Promise<void> {
    const n = this.logSteps;
    const record: LogRecord = {
      step: rec.step, epoch: round(this.state.epoch),
      loss: n ? this.logLoss / n : NaN, learning_rate: rec.lr, grad_norm: n ? this.logGradNorm / n : NaN,
    };
    if (this.state.skipped_steps) record.skipped_steps = this.state.skipped_steps;
    this.logLoss = 0; this.logSteps = 0; this.logGradNorm = 0;
    await this.log(record);
  }

  async log(record: LogRecord): Promise<void> {
    this.state.log_history.push(record);
    const dir = this.t.runDir;
    if (dir && this.isMain) await appendFile(path.join(dir, 'metrics.jsonl'), JSON.stringify(record) + '\n');
    this.progress.log(record);
    await this.emit('onLog', { record });
  }

  async evaluate(): Promise<void> {
    const { o, state } = this;
    this.lastEval = state.global_step;
    const t0 = performance.now();
    const metrics = await this.t.evaluate(this.fo.evalData!);
    // HF logs eval_runtime beside the metrics: where an epoch's time went.
    const evalRuntime = round((performance.now() - t0) / 1e3);
    await this.log({ step: state.global_step, epoch: round(state.epoch), ...metrics, eval_runtime: evalRuntime });
    const m = metrics[o.metricForBestModel];
    if (m === undefined)
      throw invalidRange(`one of ${Object.keys(metrics).join(', ')}`, 'metricForBestModel', o.metricForBestModel);
    const best = state.best_metric;
    const better = (a: number, b: number) => (o.greaterIsBetter ? a > b : a < b);
    const isBest = best === null || better(m, best);
    if (best === null || (better(m, best) && Math.abs(m - best) > o.earlyStoppingThreshold)) state.patience_counter = 0;
    else state.patience_counter++;
    if (isBest) {
      state.best_metric = m;
      state.best_step = state.global_step;
    }
    await this.emit('onEvaluate', { metrics, isBest });
    if (o.earlyStoppingPatience && state.patience_counter >= o.earlyStoppingPatience && !this.stopReason) {
      this.stopReason = 'early_stopping';
      this.progress.print(`[${o.runName ?? 'train'}] early stopping: ${o.metricForBestModel} has not improved for ${state.patience_counter} evaluations`);
    }
  }

  /** Rank 0 (or the only process) writes checkpoints, logs and the report. */
  get isMain(): boolean {
    return !this.o.processGroup || this.o.processGroup.rank === 0;
  }

  async save(): Promise<void> {
    const { o, state, model } = this;
    if (!o.outputDir) return;
    if (!this.isMain) {
      this.lastSaved = state.global_step;
      return;
    }
    const dir = path.join(o.outputDir, `checkpoint-${state.global_step}`);
    if (state.best_step === state.global_step) state.best_model_checkpoint = dir;
    state.train_runtime = this.runtime();
    this.lastCheckpoint = await saveCheckpoint(model, o.outputDir, state, o.tokenizer);
    this.lastSaved = state.global_step;
    if (o.saveTotalLimit) await rotateCheckpoints(o.outputDir, o.saveTotalLimit, state.best_model_checkpoint);
    await this.emit('onSave', { dir });
  }

  async finish(): Promise<void> {
    const { o, state } = this;
    if (o.outputDir && (o.saveAtEnd || this.stopReason === 'aborted') && this.lastSaved !== state.global_step) await this.save();
    state.train_runtime = this.runtime();
    if (o.loadBestModelAtEnd && state.best_model_checkpoint) await loadWeightsInto(this.model, state.best_model_checkpoint);
    if (this.t.runDir) {
      // Every rank takes part in the report's evaluation (it gathers); rank 0 writes it.
      await this.writeRunReport();
    }
  }

  runtime(): number {
    return this.runtimeBefore + (performance.now() - this.started) / 1000;
  }

  async openRunLog(): Promise<void> {
    const dir = this.t.runDir;
    if (!dir || !this.isMain) return;
    await mkdir(dir, { recursive: true });
    // A resumed run rewrites the file from the checkpoint's history: it then equals the uninterrupted run's.
    const lines = this.state.log_history.map((r) => JSON.stringify(r) + '\n').join('');
    await writeFile(path.join(dir, 'metrics.jsonl'), lines);
  }

  async writeRunReport(): Promise<void> {
    const dir = this.t.runDir!;
    const evaluations: ReportEvaluation[] = [];
    const arch = this.model.architecture;
    if (this.fo.evalData && (arch === 'BertForSequenceClassification' || arch === 'BertForTokenClassification')) {
      evaluations.push(await classificationEvaluation(this.t, this.fo.evalData, this.o.runName ?? 'eval'));
    }
    if (!this.isMain) return;
    await writeReport(path.join(dir, 'report.html'), {
      title: `bertorch run ${this.o.runName}`,
      runs: [{ name: this.o.runName ?? 'train', history: this.state.log_history }],
      evaluations,
      baselines: this.o.baselines,
      config: { ...this.o.reportConfig, trainer: reportableOptions(this.o), model: this.model.config },
    });
  }

  async emit<K extends 'onStepEnd' | 'onEvaluate' | 'onLog' | 'onSave'>(hook: K, extra: Record<string, unknown>): Promise<void> {
    for (const cb of this.o.callbacks) {
      const fn = cb[hook] as ((e: unknown) => unknown) | undefined;
      if (!fn) continue;
      await fn.call(cb, { ...extra, state: this.state, stop: () => { if (!this.stopReason) this.stopReason = 'callback'; } });
    }
  }

  result(): FitResult {
    const { state } = this;
    return {
      globalStep: state.global_step, epoch: state.epoch, trainLoss: this.runSteps ? this.runLoss / this.runSteps : NaN,
      samplesPerSecond: this.runSamples / ((performance.now() - this.started) / 1000),
      stopReason: this.stopReason ?? 'completed', bestMetric: state.best_metric, bestCheckpoint: state.best_model_checkpoint,
      lastCheckpoint: this.lastCheckpoint, runDir: this.t.runDir, runtime: (performance.now() - this.started) / 1000, bf16: this.bf16, state,
    };
  }
}


function finiteOr(x: number, fallback: number): number {
  return Number.isFinite(x) ? x : fallback;
}

function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

/** The trainer options worth showing in a report (no functions, streams or objects). */
function reportableOptions(o: ResolvedOptions): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && (typeof v !== 'object' || Array.isArray(v)) && typeof v !== 'function')
    .filter(([k]) => k !== 'callbacks' && k !== 'baselines'));
}

/**
 * A classification report and confusion matrix of the model on `data`
 * (per example for sequence heads, per scored token for token heads), for report.html.
 */
export async function classificationEvaluation(trainer: Trainer, data: EvalData, name: string): Promise<ReportEvaluation> {
  const p = await trainer.collect(data);
  const { predictions, labels } = flattenPredictions(p);
  const names = p.labelNames;
  const ids = names ? names.map((_, i) => i) : [...new Set([...labels, ...predictions])].sort((a, b) => a - b);
  const targetNames = names ?? ids.map(String);
  const report = classificationReport(Array.from(labels), Array.from(predictions), { labels: ids, targetNames, zeroDivision: 0, digits: 3 });
  const present = new Set(labels);
  const matrix = ids.some((i) => present.has(i)) ? confusionMatrix(Array.from(labels), Array.from(predictions), ids) : [];
  return { name, labels: targetNames, report, confusion: matrix, loss: p.loss };
}
