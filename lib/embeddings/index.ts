export { SentenceEncoder, padEncodings, type SentenceEncodeOptions, type SentenceEncoderOptions } from './encoder.js';
export { fitSentenceEncoder, retrievalMetrics, type FitSentenceOptions, type PairExample, type RetrievalEval } from './train.js';
export { collateIds } from './collate.js';
export { readSentenceFolder, writeSentenceFolder, SentenceFolderError, type Pooling, type SentenceFolder } from './folder.js';
