// Training runs shared by pretrain and finetune: Trainer options from the
// flags, Ctrl-C handling, and saving the result into --out.

import path from 'node:path';
import type { PreTrainedBert } from '../models/index.js';
import type { Tokenizer } from '../tokenizer.js';
import { Trainer, type BatchSource, type FitResult, type TrainerOptions } from '../train/index.js';
import { say, type Io } from './command.js';
import { UsageError, type Values } from './options.js';

export function trainerOptions(v: Values, out: string, tokenizer: Tokenizer, hasEval: boolean): TrainerOptions {
  return {
    epochs: v.epochs, maxSteps: v.maxSteps, lr: v.lr, warmupRatio: v.warmupRatio, weightDecay: v.weightDecay, seed: v.seed,
    loggingSteps: v.loggingSteps, evalSteps: hasEval ? v.evalSteps : undefined, outputDir: path.join(out, 'checkpoints'),
    saveSteps: v.saveSteps, saveTotalLimit: 2, saveAtEnd: v.saveSteps !== undefined, tokenizer,
    runName: v.runName, runsDir: path.join(out, 'runs'), progress: v.quiet ? 'none' : 'auto', bf16: v.bf16,
  };
}

/** A Trainer; an option it refuses came from the flags, so that is a usage error. */
export function makeTrainer(model: PreTrainedBert, options: TrainerOptions): Trainer {
  try {
    return new Trainer(model, options);
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_INVALID_ARG') throw new UsageError((e as Error).message);
    throw e;
  }
}

/** Runs fit() with Ctrl-C as an abort (the Trainer stops after the step and checkpoints); resolves to the stop reason. */
export async function fit(trainer: Trainer, train: BatchSource, evalData: BatchSource | undefined, resume: boolean): Promise<FitResult> {
  const ac = new AbortController();
  const onSigint = () => ac.abort();
  process.once('SIGINT', onSigint);
  try {
    return await trainer.fit(train, { evalData, signal: ac.signal, resume: resume || undefined });
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** Saves the model and tokenizer into --out and prints the summary; an interrupted run keeps only its checkpoint (exit 130). */
export async function finish(io: Io, v: Values, command: string, model: PreTrainedBert, tokenizer: Tokenizer, r: FitResult, extra: Record<string, number> = {}): Promise<number> {
  if (r.stopReason !== 'aborted') {
    await model.savePretrained(v.out);
    await tokenizer.save(v.out);
  }
  io.stdout.write(summary(command, v.out, r, extra));
  if (r.stopReason === 'aborted') {
    say(io, v, `interrupted: checkpoint ${r.lastCheckpoint}; continue with the same command and --resume`);
    return 130;
  }
  say(io, v, `saved the model and tokenizer to ${v.out}`);
  return 0;
}

const round3 = (x: number) => Math.round(x * 1e3) / 1e3;

/** The run's summary line: steps, why it stopped, the last evaluation's metrics. */
function summary(command: string, out: string, r: FitResult, extra: Record<string, number>): string {
  const rec = r.state.log_history.filter((x) => Object.keys(x).some((k) => k.startsWith('eval_'))).at(-1);
  const metrics = rec ? Object.fromEntries(Object.entries(rec).filter(([k]) => k.startsWith('eval_') && k !== 'eval_runtime')) : {};
  const evalRuntime = r.state.log_history.reduce((a, x) => a + (typeof x.eval_runtime === 'number' ? x.eval_runtime : 0), 0);
  return JSON.stringify({
    command, out, steps: r.globalStep, trainLoss: r.trainLoss, stopReason: r.stopReason, ...metrics,
    trainRuntime: round3(r.runtime), evalRuntime: round3(evalRuntime), trainSamplesPerSecond: round3(r.samplesPerSecond), bf16: r.bf16, ...extra,
  }) + '\n';
}
