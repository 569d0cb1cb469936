export { SentenceEncoder, padEncodings, type EncodeOptions, type SentenceEncoderOptions } from './encoder.js';
export { readSentenceFolder, writeSentenceFolder, SentenceFolderError, type Pooling, type SentenceFolder } from './folder.js';
