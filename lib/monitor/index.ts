/** Sentiment monitoring over a stream: windows, index, turn alerts, readers, report. Re-exports only. */
export * from './monitor.js';
export { readRecords, splitCsvLine, type ReadRecordsOptions } from './reader.js';
export { TopicMatcher, words, type TopicSpec } from './topics.js';
export { DETECTION_DEFAULTS, TurnDetector, type DetectionOptions } from './detect.js';
export { normalQuantile } from './stats.js';
export { parseDuration } from './duration.js';
export { renderMonitorReport, writeMonitorReport, type MonitorReportData, type TopicSeries } from './report.js';
