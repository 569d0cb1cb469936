/**
 * Checkpoints: outputDir/checkpoint-<step>/ holds the HF model folder
 * (config.json + model.safetensors, + tokenizer files), optimizer.safetensors
 * (AdamW moments by parameter name, step in the metadata) and
 * trainer_state.json. A checkpoint is written into a temporary folder and
 * renamed into place, so a crash never leaves one half-written; rotation
 * keeps the last K and the best.
 */
import { readdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { PreTrainedBert } from '../models/bert.js';
import { writeFileAtomic } from '../models/atomic.js';
import { loadStateDictFiles, readSafetensors, writeSafetensors, type TensorRecord } from '../models/safetensors.js';
import { recordToTensor, tensorToRecord } from '../models/state.js';
import type { Tensor } from '../tensor.js';
import type { TrainerState } from './callbacks.js';
import type { Saveable } from './options.js';

export const TRAINER_STATE = 'trainer_state.json';
export const OPTIMIZER_FILE = 'optimizer.safetensors';
const CKPT_RE = /^checkpoint-(\d+)$/;

/** Optimizer moments as safetensors records: `<param>.exp_avg`, `<param>.exp_avg_sq`. */
function optimizerRecords(model: PreTrainedBert): { records: Map<string, TensorRecord>; step: number } | null {
  const s = model.optimizerState();
  if (!s) return null;
  const records = new Map<string, TensorRecord>();
  try {
    for (const [k, t] of s.expAvg) records.set(`${k}.exp_avg`, tensorToRecord(t));
    for (const [k, t] of s.expAvgSq) records.set(`${k}.exp_avg_sq`, tensorToRecord(t));
  } finally {
    for (const t of [...s.expAvg.values(), ...s.expAvgSq.values()]) t.dispose();
  }
  return { records, step: s.step };
}

/** Writes checkpoint-<step>/ under outputDir (replacing one of the same step) and returns its path. */
export async function saveCheckpoint(model: PreTrainedBert, outputDir: string, state: TrainerState, tokenizer?: Saveable): Promise<string> {
  const final = path.join(outputDir, `checkpoint-${state.global_step}`);
  const tmp = `${final}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await model.savePretrained(tmp);
  if (tokenizer) await tokenizer.save(tmp);
  const opt = optimizerRecords(model);
  if (opt) await writeSafetensors(path.join(tmp, OPTIMIZER_FILE), opt.records, { format: 'pt', step: String(opt.step) });
  await writeFileAtomic(path.join(tmp, TRAINER_STATE), JSON.stringify(state, null, 2) + '\n');
  await rm(final, { recursive: true, force: true });
  await rename(tmp, final);
  return final;
}

/** Reads trainer_state.json of a checkpoint folder. */
export async function readTrainerState(dir: string): Promise<TrainerState> {
  const file = path.join(dir, TRAINER_STATE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw Object.assign(new Error(`${dir} is not a checkpoint folder: no ${TRAINER_STATE} (${(e as Error).message})`), { code: 'ERR_NO_CHECKPOINT' });
  }
  let s: TrainerState;
  try {
    s = JSON.parse(text) as TrainerState;
  } catch (e) {
    throw Object.assign(new Error(`${file}: not valid JSON (${(e as Error).message})`), { code: 'ERR_BAD_CHECKPOINT' });
  }
  const pos = s?.data_position;
  if (!s || typeof s !== 'object' || !Number.isInteger(s.global_step) || !pos || typeof pos !== 'object' ||
      !Number.isInteger(pos.epoch) || !Number.isInteger(pos.index))
    throw Object.assign(new Error(`${file}: missing or malformed global_step or data_position {epoch, index}`), { code: 'ERR_BAD_CHECKPOINT' });
  if (s.log_history === undefined) s.log_history = [];
  if (!Array.isArray(s.log_history) || s.log_history.some((r) => !r || typeof r !== 'object'))
    throw Object.assign(new Error(`${file}: log_history is not an array of records`), { code: 'ERR_BAD_CHECKPOINT' });
  return s;
}

/** Copies a checkpoint's model weights into the model (same architecture and sizes). */
export async function loadWeightsInto(model: PreTrainedBert, dir: string): Promise<void> {
  const { tensors } = await loadStateDictFiles(dir);
  for (const [k, r] of await (model.constructor as typeof PreTrainedBert).extraRecords(dir)) tensors.set(k, r);
  await loadTensors(tensors, (state) => {
    const r = model.loadStateDict(state);
    if (r.missing.length || r.mismatched.length)
      throw new RangeError(`${dir}: checkpoint does not fit the model (missing ${r.missing.join(', ') || 'none'}; mismatched ${r.mismatched.join(', ') || 'none'})`);
  });
}

/** Copies model weights and AdamW state from a checkpoint folder (call after configureOptimizer). */
export async function loadCheckpointInto(model: PreTrainedBert, dir: string): Promise<void> {
  await loadWeightsInto(model, dir);
  const { tensors: opt, metadata } = await readSafetensors(path.join(dir, OPTIMIZER_FILE));
  await loadTensors(opt, (state) => {
    const expAvg = new Map<string, Tensor>();
    const expAvgSq = new Map<string, Tensor>();
    for (const [k, t] of state) {
      if (k.endsWith('.exp_avg_sq')) expAvgSq.set(k.slice(0, -'.exp_avg_sq'.length), t);
      else if (k.endsWith('.exp_avg')) expAvg.set(k.slice(0, -'.exp_avg'.length), t);
    }
    model.loadOptimizerState({ step: Number(metadata.step ?? 0), expAvg, expAvgSq });
  });
}

async function loadTensors(records: Map<string, TensorRecord>, use: (state: Map<string, Tensor>) => void): Promise<void> {
  const state = new Map<string, Tensor>();
  try {
    for (const [k, r] of records) state.set(k, recordToTensor(k, r));
    use(state);
  } finally {
    for (const t of state.values()) t.dispose();
  }
}

/** checkpoint-<step> folders of outputDir, oldest first. */
export async function listCheckpoints(outputDir: string): Promise<{ step: number; dir: string }[]> {
  const names = await readdir(outputDir).catch(() => [] as string[]);
  return names.flatMap((n) => {
    const m = CKPT_RE.exec(n);
    return m ? [{ step: Number(m[1]), dir: path.join(outputDir, n) }] : [];
  }).sort((a, b) => a.step - b.step);
}

/** Deletes all but the newest `keep` checkpoints, never the best one. Returns the deleted paths. */
export async function rotateCheckpoints(outputDir: string, keep: number, best: string | null): Promise<string[]> {
  const all = await listCheckpoints(outputDir);
  const bestPath = best ? path.resolve(best) : null;
  const doomed = all.slice(0, Math.max(0, all.length - keep)).filter((c) => path.resolve(c.dir) !== bestPath);
  for (const c of doomed) await rm(c.dir, { recursive: true, force: true });
  return doomed.map((c) => c.dir);
}
