/**
 * TrainerOptions: every knob of the Trainer with its default written once
 * (PyTorch's XxxOptions idea), validated in TypeScript before anything runs.
 * Names follow HF TrainingArguments in camelCase where one exists.
 */
import { ProcessGroup } from '../distributed/process-group.js';
import { invalidRange, invalidType } from '../errors.js';
import type { TrainerCallback } from './callbacks.js';
import type { EvalPrediction } from './predictions.js';
import type { ReportEvaluation } from './report.js';

/** 'one_cycle': linear up to the peak at warmupRatio (0.5 when 0), then linearly to 0 (lib/train/schedule.ts). */
export type Schedule = 'constant' | 'constant_with_warmup' | 'linear' | 'cosine' | 'one_cycle';
export type Strategy = 'no' | 'steps' | 'epoch';
export type ProgressMode = 'auto' | 'bar' | 'lines' | 'none';

/** Something that can write its files into a checkpoint folder (a Tokenizer). */
export interface Saveable {
  save(dir: string): Promise<void>;
}

export interface TrainerOptions {
  /** Passes over the training data (ignored when maxSteps is set). @default 3 */
  epochs?: number;
  /** Optimizer steps to run; overrides epochs. */
  maxSteps?: number;
  /**
   * A time budget in seconds (wall clock of fit, evaluation and saving
   * included; a resumed run counts the time before). Training stops at the
   * first step that ends past it (stopReason 'max_time') and saves as at the
   * end. The schedule then runs on elapsed / maxTime instead of steps, so it
   * reaches its end (lr 0 for 'linear', 'cosine', 'one_cycle') exactly when
   * the budget runs out, and warmupRatio is a share of the time. The data is
   * cycled until then: epochs is ignored, and maxSteps still bounds the run.
   * @default undefined (no budget)
   */
  maxTime?: number;
  /** Batches whose gradients are summed (token-weighted) into one optimizer step. @default 1 */
  gradientAccumulationSteps?: number;
  /** Peak learning rate. @default 5e-5 */
  lr?: number;
  /** @default 'linear' */
  schedule?: Schedule;
  /** Linear warmup steps; takes precedence over warmupRatio. @default 0 */
  warmupSteps?: number;
  /** Warmup as a fraction of the total steps (rounded up, as HF). @default 0 */
  warmupRatio?: number;
  /** AdamW decoupled weight decay (not on biases and LayerNorm). @default 0 */
  weightDecay?: number;
  /** @default [0.9, 0.999] */
  betas?: [number, number];
  /** @default 1e-8 */
  eps?: number;
  /** Clip the global gradient norm to this; 0 turns clipping off. @default 1 */
  maxGradNorm?: number;
  /** Seeds dropout: libtorch's generator is re-seeded with seed + step before every step. @default 42 */
  seed?: number;

  /** When to evaluate evalData. @default 'steps' if evalSteps is set, else 'epoch' when evalData is given */
  evalStrategy?: Strategy;
  /** Evaluate every N optimizer steps. */
  evalSteps?: number;
  /** Metrics from predictions; the default gives accuracy and macro precision / recall / F1 (masked accuracy for MLM). */
  computeMetrics?: (p: EvalPrediction) => Record<string, number>;
  /** The metric that ranks checkpoints, with or without the `eval_` prefix. @default 'eval_loss' */
  metricForBestModel?: string;
  /** @default false for metrics whose name ends in 'loss', true otherwise */
  greaterIsBetter?: boolean;
  /** Stop after this many evaluations without improvement. @default undefined (never) */
  earlyStoppingPatience?: number;
  /** Smallest change that counts as an improvement. @default 0 */
  earlyStoppingThreshold?: number;

  /** Folder for checkpoint-<step>/ folders. Required to save or to resume with `resume: true`. */
  outputDir?: string;
  /** When to save a checkpoint. @default 'steps' if saveSteps is set, else 'no' */
  saveStrategy?: Strategy;
  /** Save every N optimizer steps. */
  saveSteps?: number;
  /** Keep the last K checkpoints, plus the best one. @default undefined (keep all) */
  saveTotalLimit?: number;
  /** Save a checkpoint when training ends (when outputDir is set). @default true */
  saveAtEnd?: boolean;
  /** Load the best checkpoint's weights into the model when training ends. @default false */
  loadBestModelAtEnd?: boolean;
  /** Saved into each checkpoint beside the model (e.g. the Tokenizer). */
  tokenizer?: Saveable;

  /** Log (mean loss, lr, grad norm) every N steps. @default 10 */
  loggingSteps?: number;
  /** runs/<runName>/ gets metrics.jsonl and report.html. @default undefined (no files) */
  runName?: string;
  /** @default 'runs' */
  runsDir?: string;
  /**
   * Other models scored on the same evaluation data, shown in report.html
   * beside this one's classification report (e.g. lib/baseline's TF-IDF +
   * logistic regression). @default []
   */
  baselines?: ReportEvaluation[];
  /** Anything to show in the report's config table (the model config is added). */
  reportConfig?: Record<string, unknown>;
  /** 'auto' draws a bar on a TTY stderr and writes log lines otherwise. @default 'auto' */
  progress?: ProgressMode;
  /** Where log lines go. @default process.stderr */
  logStream?: NodeJS.WritableStream;

  /** A NaN/inf loss: throw NonFiniteLossError naming the step, or skip the update. @default 'error' */
  onNonFinite?: 'error' | 'skip';
  callbacks?: TrainerCallback[];
  /** Where to train: 'auto' picks 'cuda' when libtorch sees a GPU, else 'cpu'. @default 'auto' */
  device?: 'auto' | 'cpu' | 'cuda' | `cuda:${number}`;
  /** bf16 autocast for forward/backward (parameters and AdamW stay float32). @default true on CUDA, false on CPU */
  bf16?: boolean;
  /**
   * CUDA graphs for the training steps (model.cudaGraphs()): pays off when
   * batches keep one shape (pad to a fixed length); each new shape warms up
   * and captures again. CUDA only, without a process group. @default false
   */
  cudaGraphs?: boolean;
  /**
   * Data-parallel training over this group (initProcessGroup()): parameters
   * broadcast from rank 0, gradients averaged in every step, evaluation
   * gathered from all ranks, and only rank 0 writes checkpoints, logs and the
   * report. Give each rank its own shard (DataLoader { rank, worldSize }).
   */
  processGroup?: ProcessGroup;
}

/** Options with defaults filled in. */
export interface ResolvedOptions extends Required<Omit<TrainerOptions,
  'maxSteps' | 'maxTime' | 'evalSteps' | 'computeMetrics' | 'earlyStoppingPatience' | 'outputDir' | 'saveSteps' | 'saveTotalLimit' |
  'tokenizer' | 'runName' | 'reportConfig' | 'logStream' | 'greaterIsBetter' | 'evalStrategy' | 'bf16' | 'processGroup'>> {
  bf16?: boolean;
  processGroup?: ProcessGroup;
  maxSteps?: number;
  maxTime?: number;
  evalSteps?: number;
  evalStrategy?: Strategy;
  computeMetrics?: (p: EvalPrediction) => Record<string, number>;
  greaterIsBetter: boolean;
  earlyStoppingPatience?: number;
  outputDir?: string;
  saveSteps?: number;
  saveTotalLimit?: number;
  tokenizer?: Saveable;
  runName?: string;
  reportConfig: Record<string, unknown>;
  logStream: NodeJS.WritableStream;
}

const posInt = (v: unknown, name: string) => {
  if (v !== undefined && (!Number.isInteger(v) || (v as number) < 1)) invalidRange('a positive integer', name, v);
};
const nonNeg = (v: unknown, name: string) => {
  if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0)) invalidRange('a finite number >= 0', name, v);
};
const oneOf = (v: unknown, name: string, values: readonly string[]) => {
  if (v !== undefined && !values.includes(v as string)) invalidRange(values.map((x) => `'${x}'`).join(', '), name, v);
};

/** `accuracy` -> `eval_accuracy`; names already prefixed stay. */
export function metricKey(name: string): string {
  return name.startsWith('eval_') ? name : `eval_${name}`;
}

/**
 * Fills defaults and checks every option.
 * @throws TypeError / RangeError (code ERR_INVALID_ARG) naming the option.
 */
export function resolveOptions(o: TrainerOptions = {}): ResolvedOptions {
  if (o === null || typeof o !== 'object') invalidType('an options object', 'options', o);
  posInt(o.epochs, 'epochs'); posInt(o.maxSteps, 'maxSteps'); posInt(o.gradientAccumulationSteps, 'gradientAccumulationSteps');
  posInt(o.evalSteps, 'evalSteps'); posInt(o.saveSteps, 'saveSteps'); posInt(o.saveTotalLimit, 'saveTotalLimit');
  posInt(o.loggingSteps, 'loggingSteps'); posInt(o.earlyStoppingPatience, 'earlyStoppingPatience');
  nonNeg(o.lr, 'lr'); nonNeg(o.weightDecay, 'weightDecay'); nonNeg(o.maxGradNorm, 'maxGradNorm'); nonNeg(o.eps, 'eps');
  nonNeg(o.earlyStoppingThreshold, 'earlyStoppingThreshold');
  if (o.warmupSteps !== undefined && (!Number.isInteger(o.warmupSteps) || o.warmupSteps < 0)) invalidRange('a non-negative integer', 'warmupSteps', o.warmupSteps);
  if (o.warmupRatio !== undefined && (typeof o.warmupRatio !== 'number' || !(o.warmupRatio >= 0 && o.warmupRatio <= 1)))
    invalidRange('a number in [0, 1]', 'warmupRatio', o.warmupRatio);
  if (o.seed !== undefined && (!Number.isSafeInteger(o.seed) || o.seed < 0)) invalidRange('a non-negative integer', 'seed', o.seed);
  oneOf(o.schedule, 'schedule', ['constant', 'constant_with_warmup', 'linear', 'cosine', 'one_cycle']);
  if (o.maxTime !== undefined && (typeof o.maxTime !== 'number' || !Number.isFinite(o.maxTime) || o.maxTime <= 0))
    invalidRange('a number of seconds > 0', 'maxTime', o.maxTime);
  if (o.maxTime !== undefined && o.warmupSteps) invalidRange('0 with maxTime (warm up by warmupRatio, a share of the time)', 'warmupSteps', o.warmupSteps);
  oneOf(o.evalStrategy, 'evalStrategy', ['no', 'steps', 'epoch']);
  oneOf(o.saveStrategy, 'saveStrategy', ['no', 'steps', 'epoch']);
  oneOf(o.progress, 'progress', ['auto', 'bar', 'lines', 'none']);
  oneOf(o.onNonFinite, 'onNonFinite', ['error', 'skip']);
  if (o.device !== undefined && (typeof o.device !== 'string' || !/^(auto|cpu|cuda(:\d+)?)$/.test(o.device)))
    invalidRange("'auto', 'cpu', 'cuda' or 'cuda:N'", 'device', o.device);
  if (o.bf16 !== undefined && typeof o.bf16 !== 'boolean') invalidType('a boolean', 'bf16', o.bf16);
  if (o.cudaGraphs !== undefined && typeof o.cudaGraphs !== 'boolean') invalidType('a boolean', 'cudaGraphs', o.cudaGraphs);
  if (o.processGroup !== undefined && !(o.processGroup instanceof ProcessGroup)) invalidType('a ProcessGroup', 'processGroup', o.processGroup);
  if (o.evalStrategy === 'steps' && o.evalSteps === undefined) invalidRange("evalSteps with evalStrategy 'steps'", 'evalSteps', o.evalSteps);
  if (o.saveStrategy === 'steps' && o.saveSteps === undefined) invalidRange("saveSteps with saveStrategy 'steps'", 'saveSteps', o.saveSteps);
  if (o.computeMetrics !== undefined && typeof o.computeMetrics !== 'function') invalidType('a function', 'computeMetrics', o.computeMetrics);
  if (o.callbacks !== undefined && !Array.isArray(o.callbacks)) invalidType('an array of callbacks', 'callbacks', o.callbacks);
  if (o.baselines !== undefined && !Array.isArray(o.baselines)) invalidType('an array of report evaluations', 'baselines', o.baselines);
  for (const k of ['outputDir', 'runName', 'runsDir', 'metricForBestModel'] as const)
    if (o[k] !== undefined && (typeof o[k] !== 'string' || o[k] === '')) invalidType('a non-empty string', k, o[k]);
  const saveStrategy = o.saveStrategy ?? (o.saveSteps !== undefined ? 'steps' : 'no');
  if (saveStrategy !== 'no' && !o.outputDir) invalidType('a folder (saving checkpoints needs one)', 'outputDir', o.outputDir);
  const metric = metricKey(o.metricForBestModel ?? 'eval_loss');
  return {
    epochs: o.epochs ?? 3,
    maxSteps: o.maxSteps,
    maxTime: o.maxTime,
    gradientAccumulationSteps: o.gradientAccumulationSteps ?? 1,
    lr: o.lr ?? 5e-5,
    schedule: o.schedule ?? 'linear',
    warmupSteps: o.warmupSteps ?? 0,
    warmupRatio: o.warmupRatio ?? 0,
    weightDecay: o.weightDecay ?? 0,
    betas: o.betas ?? [0.9, 0.999],
    eps: o.eps ?? 1e-8,
    maxGradNorm: o.maxGradNorm ?? 1,
    seed: o.seed ?? 42,
    evalStrategy: o.evalStrategy ?? (o.evalSteps !== undefined ? 'steps' : undefined),
    evalSteps: o.evalSteps,
    computeMetrics: o.computeMetrics,
    metricForBestModel: metric,
    greaterIsBetter: o.greaterIsBetter ?? !metric.endsWith('loss'),
    earlyStoppingPatience: o.earlyStoppingPatience,
    earlyStoppingThreshold: o.earlyStoppingThreshold ?? 0,
    outputDir: o.outputDir,
    saveStrategy,
    saveSteps: o.saveSteps,
    saveTotalLimit: o.saveTotalLimit,
    saveAtEnd: o.saveAtEnd ?? true,
    loadBestModelAtEnd: o.loadBestModelAtEnd ?? false,
    tokenizer: o.tokenizer,
    loggingSteps: o.loggingSteps ?? 10,
    runName: o.runName,
    runsDir: o.runsDir ?? 'runs',
    reportConfig: o.reportConfig ?? {},
    baselines: o.baselines ?? [],
    progress: o.progress ?? 'auto',
    logStream: o.logStream ?? process.stderr,
    onNonFinite: o.onNonFinite ?? 'error',
    callbacks: o.callbacks ?? [],
    device: o.device ?? 'auto',
    bf16: o.bf16,
    cudaGraphs: o.cudaGraphs ?? false,
    processGroup: o.processGroup,
  };
}
