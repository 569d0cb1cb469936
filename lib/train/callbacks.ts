/**
 * The Trainer's state and its callback hooks (HF TrainerCallback, trimmed).
 * Hooks run on the JS thread between steps and may be async; the Trainer
 * awaits them in order. A hook stops training by calling `stop()` on its
 * event: the current step finishes and a checkpoint is saved.
 */
import type { DataPosition } from './source.js';

/** One entry of the log history: training logs, evaluations, the summary. */
export interface LogRecord {
  step: number;
  /** Fractional epoch (HF): step / steps per epoch. */
  epoch: number;
  [key: string]: number;
}

/** Saved as trainer_state.json (HF's field names where HF has one). */
export interface TrainerState {
  /** Optimizer steps done (skipped non-finite steps included). */
  global_step: number;
  epoch: number;
  max_steps: number;
  num_train_epochs: number;
  logging_steps: number;
  eval_steps: number | null;
  save_steps: number | null;
  train_batch_size: number | null;
  best_metric: number | null;
  best_model_checkpoint: string | null;
  /** Step of the best evaluation. */
  best_step: number | null;
  log_history: LogRecord[];
  /** The next batch: resume() continues here. */
  data_position: DataPosition;
  /** Dropout RNG: libtorch's global generator is re-seeded with seed + global_step before each step. */
  seed: number;
  /** Evaluations since the best one (early stopping). */
  patience_counter: number;
  skipped_steps: number;
  /** Monotonic training time over all runs of this job, in seconds. */
  train_runtime: number;
}

/** What one optimizer step did. */
export interface StepRecord {
  step: number;
  loss: number;
  lr: number;
  gradNorm: number;
  skipped: boolean;
}

interface Stoppable {
  readonly state: Readonly<TrainerState>;
  /** Stop training after this step (a checkpoint is saved when outputDir is set). */
  stop(): void;
}
export interface StepEndEvent extends Stoppable { step: StepRecord }
export interface EvaluateEvent extends Stoppable { metrics: Record<string, number>; isBest: boolean }
export interface LogEvent { readonly state: Readonly<TrainerState>; record: LogRecord }
export interface SaveEvent { readonly state: Readonly<TrainerState>; dir: string }

/** Hooks called by Trainer.fit; every one is optional and may return a Promise. */
export interface TrainerCallback {
  onStepEnd?(e: StepEndEvent): void | Promise<void>;
  onEvaluate?(e: EvaluateEvent): void | Promise<void>;
  onLog?(e: LogEvent): void | Promise<void>;
  onSave?(e: SaveEvent): void | Promise<void>;
}
