/**
 * Replaced-token detection (ELECTRA, Clark et al. 2020) as a BERT class: the
 * discriminator is the BERT that is kept, the generator (a narrower MLM over
 * the shared embeddings) and the discriminator head are trained beside it and
 * saved in a `generator/` folder next to the BERT's weights, so the folder is
 * one that transformers loads as `BertModel`. All math is native
 * (native/electra.cc); ownership and queuing are PreTrainedBert's.
 */
import { access, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { PreTrainedBert } from './bert.js';
import { writeConfig, type Architecture, type BertConfig } from './config.js';
import { readSafetensors, writeSafetensors, type TensorRecord } from './safetensors.js';
import { tensorToRecord } from './state.js';

/** Where a saved RTD folder keeps the generator and the discriminator head. */
export const GENERATOR_DIR = 'generator';

const isHead = (name: string) => name.startsWith('generator.') || name.startsWith('discriminator_predictions.');

/**
 * A BERT trained by replaced-token detection. With MLM batches (labels: the
 * masked tokens' ids, -100 elsewhere) `trainStep`/`forward` run the whole
 * objective: generator MLM loss + 50 x the discriminator's binary
 * cross-entropy over every non-pad token, on ids whose masked positions hold
 * tokens sampled from the generator. With float labels (1 = replaced) they
 * run the discriminator alone on the ids as given, as transformers'
 * `ElectraForPreTraining`. `logits` are the discriminator's (B, T).
 * `savePretrained` writes a `BertModel` folder plus `generator/`.
 * @example const m = BertForReplacedTokenDetection.create({ ...PRESETS.mini, vocab_size: 8000, generator_hidden_size: 64 });
 */
export class BertForReplacedTokenDetection extends PreTrainedBert {
  static override readonly architecture: Architecture = 'BertForReplacedTokenDetection';

  /** The generator and the discriminator head, from `<dir>/generator/model.safetensors` when there is one. */
  static override async extraRecords(dir: string): Promise<Map<string, TensorRecord>> {
    const file = path.join(dir, GENERATOR_DIR, 'model.safetensors');
    if (!(await access(file).then(() => true, () => false))) return new Map();
    return (await readSafetensors(file)).tensors;
  }

  /** Writes the discriminator as a BertModel folder and the rest under `generator/`. */
  override async savePretrained(dir: string): Promise<void> {
    const heads = path.join(dir, GENERATOR_DIR);
    await mkdir(heads, { recursive: true });
    const state = this.stateDict();
    try {
      const bert = new Map<string, TensorRecord>();
      const rest = new Map<string, TensorRecord>();
      for (const [k, t] of state) (isHead(k) ? rest : bert).set(k, tensorToRecord(t));
      await writeSafetensors(path.join(dir, 'model.safetensors'), bert, { format: 'pt' });
      await writeSafetensors(path.join(heads, 'model.safetensors'), rest, { format: 'pt' });
    } finally {
      for (const t of state.values()) t.dispose();
    }
    const { num_labels: _n, use_sdpa: _s, gradient_checkpointing: _g, ...config } = this.config as Record<string, unknown>;
    const common = { ...(config as BertConfig), model_type: 'bert' as const, torch_dtype: 'float32' };
    // The generator_* keys stay in config.json: transformers' BertConfig keeps
    // unknown keys, and continuing RTD from the folder rebuilds the same generator.
    await writeConfig(dir, { ...common, architectures: ['BertModel'] });
    await writeConfig(heads, { ...common, architectures: ['BertForReplacedTokenDetection'] });
  }
}
