import { ClassificationDataset, type ClassificationDataset as ClsDs } from '../data/index.js';
import type { Values } from './options.js';

export async function classificationData(file: string, v: Values, fixed: { labels?: string[]; problemType?: string }): Promise<ClsDs> {
  const multi = fixed.problemType ? fixed.problemType === 'multi_label_classification' : v.multiLabel;
  const regression = fixed.problemType ? fixed.problemType === 'regression' : v.regression;
  return ClassificationDataset.fromFile(file, {
    textColumn: v.textColumn, textPairColumn: v.textPairColumn, labelColumn: v.labelColumn, regression,
    multiLabel: multi ? { delimiter: v.labelDelimiter } : false, labels: regression ? undefined : fixed.labels,
  });
}
