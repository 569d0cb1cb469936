// The CLI's options as data: each command lists its flags with kind, help and
// default, and parsing, --config and --help all read the same table.

export type Kind = 'string' | 'int' | 'number' | 'boolean' | 'list';
export interface Opt { kind: Kind; help: string; default?: unknown; choices?: readonly string[]; required?: boolean }
export type Opts = Record<string, Opt>;
export type Values = Record<string, any>;

/** A usage error: exit code 2. */
export class UsageError extends Error {}

export const s = (help: string, extra: Partial<Opt> = {}): Opt => ({ kind: 'string', help, ...extra });
export const i = (help: string, def?: number): Opt => ({ kind: 'int', help, default: def });
export const n = (help: string, def?: number): Opt => ({ kind: 'number', help, default: def });
export const b = (help: string): Opt => ({ kind: 'boolean', help, default: false });

export const COMMON: Opts = {
  config: s('JSON or YAML file of options (keys as the flags, kebab- or camelCase); flags win'),
  seed: i('random seed', 42),
  device: s('cpu, cuda or cuda:N', { default: 'cpu' }),
  quiet: b('no progress output'),
};
export const TRAINING: Opts = {
  epochs: i('passes over the training data', 3),
  'max-steps': i('optimizer steps (overrides --epochs)'),
  'batch-size': i('examples per step', 16),
  'eval-batch-size': i('examples per evaluation batch', 64),
  lr: n('peak learning rate', 5e-5),
  'warmup-ratio': n('share of steps with a linear warmup', 0.1),
  'weight-decay': n('AdamW weight decay', 0.01),
  'max-length': i('tokens per example, special tokens included', 128),
  'logging-steps': i('log every N steps', 50),
  'eval-steps': i('evaluate every N steps (default: each epoch)'),
  'save-steps': i('checkpoint every N steps into <out>/checkpoints'),
  resume: b('continue from the newest checkpoint in <out>/checkpoints'),
  'run-name': s('write <out>/runs/<name>/metrics.jsonl and report.html'),
  // No default: the Trainer's (on for CUDA, off for CPU) applies unless --bf16 or --no-bf16 is given.
  bf16: { kind: 'boolean', help: 'bf16 autocast for forward and backward, parameters and AdamW in float32 (default: on for CUDA, off for CPU; about 2x the steps on a CPU with AVX512-BF16 or AMX, slower on one without: info().cpuBf16 says which) (--no-bf16: off)' },
};
/** How strictly labeled files are read (issue 22: never a silent change). */
export const BAD_ROWS: Opts = {
  'on-bad-row': s('a row with a wrong number of fields, a wrong type, an unknown label...: error (stop, naming file:line) or skip (count and list it)', {
    default: 'error', choices: ['error', 'skip'],
  }),
};
export const CONLL: Opts = {
  scheme: s('CoNLL tagging scheme', { default: 'IOB2', choices: ['IOB2', 'IOB1'] }),
  'tag-column': i('CoNLL: 0-based column of the tag, needed for files of more than two columns (3 for CoNLL-2003)'),
  strict: b('CoNLL: a tag sequence that breaks --scheme is a bad row (the default)'),
  'repair-tags': b('CoNLL: read a tag sequence that breaks --scheme as seqeval does (I-X after O as B-X), listing each repair'),
};
export const CLS_DATA: Opts = {
  'text-column': s('CSV/TSV column or JSONL field of the text', { default: 'text' }),
  'text-pair-column': s('column of a second text (sentence pairs)'),
  'label-column': s('column of the label', { default: 'label' }),
};
