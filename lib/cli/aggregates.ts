// Where `bertorch monitor --aggregates` writes its per-window rows: CSV, or
// Parquet with typed columns for a path ending in .parquet. Both go to a
// temporary name first, so a failed or interrupted run leaves no half-written
// table for a downstream job to pick up.

import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { WindowAggregate } from '../monitor/index.js';
import { ParquetTableWriter, type ParquetColumn } from '../data/parquet-writer.js';

export interface AggregateSink {
  write(w: WindowAggregate): void;
  /** Completes the file and moves it into place. */
  close(): Promise<void>;
  /** Drops what was written. */
  abort(): Promise<void>;
}

const iso = (ms: number) => new Date(ms).toISOString();
const num = (x: number | null) => (x === null || !Number.isFinite(x) ? '' : String(Number(x.toFixed(6))));
const finite = (x: number | null) => (x === null || !Number.isFinite(x) ? null : x);

function csvField(x: string): string {
  return /[",\n\r]/.test(x) ? `"${x.replace(/"/g, '""')}"` : x;
}

const HEAD = ['topic', 'start', 'end', 'count', 'index', 'ci_low', 'ci_high', 'judged', 'z', 'baseline_mean', 'cusum_up', 'cusum_down'];

export async function openAggregates(file: string, labels: readonly string[]): Promise<AggregateSink> {
  await mkdir(path.dirname(path.resolve(file)), { recursive: true });
  return file.toLowerCase().endsWith('.parquet') ? parquetSink(file, labels) : csvSink(file, labels);
}

function parquetSink(file: string, labels: readonly string[]): AggregateSink {
  const columns: ParquetColumn[] = [
    { name: 'topic', type: 'string' }, { name: 'start', type: 'string' }, { name: 'end', type: 'string' }, { name: 'count', type: 'int64' },
    ...['index', 'ci_low', 'ci_high'].map((name) => ({ name, type: 'double' as const })), { name: 'judged', type: 'boolean' },
    ...['z', 'baseline_mean', 'cusum_up', 'cusum_down'].map((name) => ({ name, type: 'double' as const })),
    ...labels.map((l) => ({ name: `count_${l}`, type: 'int64' as const })),
  ];
  const table = new ParquetTableWriter(file, columns);
  return {
    write(w) {
      table.write({
        topic: w.topic, start: iso(w.start), end: iso(w.end), count: w.count, index: finite(w.index), ci_low: finite(w.ciLow), ci_high: finite(w.ciHigh),
        judged: w.judged, z: finite(w.z), baseline_mean: finite(w.baselineMean), cusum_up: finite(w.cusumUp), cusum_down: finite(w.cusumDown),
        ...Object.fromEntries(labels.map((l) => [`count_${l}`, w.counts[l] ?? 0])),
      });
    },
    close: () => table.close(),
    abort: () => table.abort(),
  };
}

function csvSink(file: string, labels: readonly string[]): AggregateSink {
  const temp = `${file}.tmp-${process.pid}`;
  const csv: WriteStream = createWriteStream(temp);
  csv.write([...HEAD, ...labels.map((l) => `count_${l}`)].join(',') + '\n');
  return {
    write(w) {
      csv.write([csvField(w.topic), iso(w.start), iso(w.end), w.count, num(w.index), num(w.ciLow), num(w.ciHigh), w.judged, num(w.z), num(w.baselineMean),
        num(w.cusumUp), num(w.cusumDown), ...labels.map((l) => w.counts[l] ?? 0)].join(',') + '\n');
    },
    async close() {
      await new Promise<void>((resolve, reject) => csv.end((e?: Error | null) => (e ? reject(e) : resolve())));
      await rename(temp, file);
    },
    async abort() {
      csv.destroy();
      await rm(temp, { force: true });
    },
  };
}
