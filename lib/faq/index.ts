export { FaqAnswerer, readHeldOut, type Calibration, type FaqAnswer, type FaqMatch, type FaqOptions, type HeldOutQuery, type IntentClassifier } from './answerer.js';
export { syntheticFaq, OUT_OF_SCOPE, type SyntheticFaqOptions } from './synthetic.js';
export { FaqInputError, readFaq, checkEntries, type FaqEntry } from './kb.js';
