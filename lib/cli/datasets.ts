// Labeled data for the commands: the CSV/TSV/JSONL and CoNLL readers with
// the flags' options, strict unless --on-bad-row skip, and every skipped row
// (or repaired tag) reported on stderr with its file and line.

import { ClassificationDataset, TokenClassificationDataset, type SkippedRow, type TagRepair } from '../data/index.js';
import { say, type Io } from './command.js';
import { UsageError, type Values } from './options.js';

const LISTED = 20;

/** A classification file as the flags say; `fixed` carries the labels and problem type of a trained model. */
export async function classificationData(file: string, v: Values, io: Io, fixed: { labels?: string[]; problemType?: string }): Promise<ClassificationDataset> {
  const multi = fixed.problemType ? fixed.problemType === 'multi_label_classification' : v.multiLabel;
  const regression = fixed.problemType ? fixed.problemType === 'regression' : v.regression;
  const data = await ClassificationDataset.fromFile(file, {
    textColumn: v.textColumn, textPairColumn: v.textPairColumn, labelColumn: v.labelColumn, regression,
    multiLabel: multi ? { delimiter: v.labelDelimiter } : false, labels: regression ? undefined : fixed.labels, onBadRow: v.onBadRow,
  });
  reportSkipped(io, v, file, data.skippedRows);
  return data;
}

/** A CoNLL file as the flags say (--scheme, --tag-column, --strict or --repair-tags). */
export async function conllData(file: string, v: Values, io: Io, extra: { labels?: string[]; labelAllSubwords?: boolean }): Promise<TokenClassificationDataset> {
  if (v.strict && v.repairTags) throw new UsageError('--strict and --repair-tags exclude each other');
  const data = await TokenClassificationDataset.fromConll(file, {
    scheme: v.scheme, tagColumn: v.tagColumn, invalidTags: v.repairTags ? 'repair' : 'error', onBadRow: v.onBadRow, ...extra,
  });
  reportSkipped(io, v, file, data.skippedRows);
  reportRepairs(io, v, file, data.repairs);
  return data;
}

function reportSkipped(io: Io, v: Values, file: string, rows: readonly SkippedRow[]): void {
  if (rows.length === 0) return;
  say(io, v, `skipped ${rows.length} bad row${rows.length === 1 ? '' : 's'} of ${file}:`);
  for (const row of rows.slice(0, LISTED)) say(io, v, `  ${file}:${row.line}: ${row.message} (${row.reason})`);
  if (rows.length > LISTED) say(io, v, `  ... and ${rows.length - LISTED} more`);
}

function reportRepairs(io: Io, v: Values, file: string, repairs: readonly TagRepair[]): void {
  if (repairs.length === 0) return;
  say(io, v, `repaired ${repairs.length} tag${repairs.length === 1 ? '' : 's'} of ${file} that broke ${v.scheme}:`);
  for (const r of repairs.slice(0, LISTED)) say(io, v, `  ${file}:${r.line}: ${r.from} -> ${r.to}`);
  if (repairs.length > LISTED) say(io, v, `  ... and ${repairs.length - LISTED} more`);
}
