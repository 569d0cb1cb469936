// Evaluation metrics: scikit-learn classification reports, seqeval NER scores, and
// masked-LM accuracy/perplexity. Pure TypeScript; importing it never loads the addon.

export {
  classificationReport,
  confusionMatrix,
  formatClassificationReport,
  multilabelReport,
  reportToDict,
  type ClassificationReport,
  type ClassificationReportOptions,
  type Label,
  type MetricRow,
  type MultilabelReport,
  type MultilabelReportOptions,
  type NamedMetricRow,
  type ZeroDivision,
} from './classification.js';
export {
  extractEntities,
  nerF1,
  nerPrecision,
  nerRecall,
  nerReport,
  type Entity,
  type NerAverage,
  type NerMode,
  type NerOptions,
  type NerReportOptions,
  type NerScheme,
  type NerScoreOptions,
} from './ner.js';
export {
  argmax,
  maskedAccuracy,
  meanCrossEntropy,
  perplexity,
  type Logits,
  type MaskedAccuracy,
  type TokenLabels,
} from './lm.js';
