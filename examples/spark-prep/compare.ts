// Spark's dedup against bertorch's own on the same corpus:
//   npx tsx examples/spark-prep/compare.ts <corpus.txt> <shards>/summary.json
// Blank lines and exact duplicates must match exactly. Near duplicates are
// found differently: Spark verifies MinHashLSH candidates by their exact
// Jaccard distance, bertorch keeps a text unless it shares an LSH band with
// a kept one (no verification), so bertorch may miss or add a pair near the
// 0.8 threshold. Tolerance: the near-duplicate counts agree within 0.5% of
// the unique texts (at least 2). bertorch's text reader skips blank lines
// before counting them, so the lines compared are the non-blank ones.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { prepareCorpus } from '../../lib/data/index.js';

/** `texts`: non-blank lines read. */
export interface DedupCounts { texts: number; duplicates: number; near_duplicates: number; written: number }

export interface DedupComparison { spark: DedupCounts; bertorch: DedupCounts; nearTolerance: number; agree: boolean }

export async function compareDedup(corpus: string, sparkSummary: string): Promise<DedupComparison> {
  const summary = JSON.parse(await readFile(sparkSummary, 'utf8'));
  const spark: DedupCounts = { texts: summary.read - summary.empty, duplicates: summary.duplicates, near_duplicates: summary.near_duplicates, written: summary.written };
  const out = await mkdtemp(path.join(tmpdir(), 'bertorch-dedup-'));
  try {
    // nearDuplicates' defaults are the Spark job's: Jaccard 0.8 over character 5-grams.
    const s = await prepareCorpus({ inputs: [corpus], outDir: out, nearDuplicates: { threshold: 0.8, shingleSize: 5 }, split: { validation: 0, test: 0 } });
    const bertorch: DedupCounts = {
      texts: s.read - s.dropped.empty, duplicates: s.dropped.duplicates, near_duplicates: s.dropped.nearDuplicates, written: s.written,
    };
    const nearTolerance = Math.max(2, Math.ceil(0.005 * (spark.written + spark.near_duplicates)));
    const agree = spark.texts === bertorch.texts && spark.duplicates === bertorch.duplicates &&
      Math.abs(spark.near_duplicates - bertorch.near_duplicates) <= nearTolerance;
    return { spark, bertorch, nearTolerance, agree };
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const [corpus, summary] = process.argv.slice(2);
  if (!corpus || !summary) throw new Error('usage: tsx examples/spark-prep/compare.ts <corpus.txt> <shards>/summary.json');
  const c = await compareDedup(corpus, summary);
  console.log(JSON.stringify(c));
  if (!c.agree) process.exitCode = 1;
}
