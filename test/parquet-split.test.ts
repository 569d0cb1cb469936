// The rank split of a folder of Parquet files: by file and by row group,
// deterministic from seed, epoch and world size; the ranks together read
// every row exactly once per epoch, and each rank opens only its row groups.
// Fixtures are written by bertorch's own Parquet writer (no Python needed).

import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readTable, splitRowGroups, type RowGroupUnit } from '../lib/data/parquet-table.js';
import { ParquetTableWriter } from '../lib/data/parquet-writer.js';

let root = '';
let files: string[] = [];
const SIZES = [23, 7, 40, 1, 16]; // rows per file; row groups of 5 (the last one shorter)

test.before(async () => {
  root = await mkdtemp(join(tmpdir(), 'bertorch-parquet-split-'));
  let id = 0;
  for (const [k, n] of SIZES.entries()) {
    const file = join(root, `part-${k}.parquet`);
    const out = new ParquetTableWriter(file, [{ name: 'id', type: 'int64' }, { name: 'text', type: 'string' }], { rowGroupSize: 5 });
    for (let i = 0; i < n; i++, id++) out.write({ id, text: `row ${id}` });
    await out.close();
    files.push(file);
  }
});

test.after.always(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

const total = SIZES.reduce((a, b) => a + b, 0);

async function idsOf(rank: number, worldSize: number, seed: number, epoch: number) {
  const ids: number[] = [];
  for await (const r of readTable(files, { columns: ['id', 'text'], rank, worldSize, seed, epoch })) {
    if (r.values.text !== `row ${r.values.id}`) throw new Error(`row ${r.row} of ${r.file} mixed up`);
    ids.push(r.values.id as number);
  }
  return ids;
}

for (const worldSize of [1, 2, 3]) {
  test(`${worldSize} rank(s) together read every row exactly once, in each of 3 epochs`, async (t) => {
    for (let epoch = 0; epoch < 3; epoch++) {
      const shares = await Promise.all(Array.from({ length: worldSize }, (_, rank) => idsOf(rank, worldSize, 42, epoch)));
      const all = shares.flat().sort((a, b) => a - b);
      t.deepEqual(all, Array.from({ length: total }, (_, i) => i), `epoch ${epoch}`);
      const sizes = shares.map((s) => s.length);
      t.true(Math.max(...sizes) - Math.min(...sizes) <= 5, `shares ${sizes} differ by at most a row group`);
    }
  });
}

test('the split is a function of seed, epoch and world size: the same again, another for another epoch or seed', (t) => {
  const units: RowGroupUnit[] = Array.from({ length: 40 }, (_, k) => ({ file: `f${k % 4}.parquet`, group: Math.floor(k / 4), rows: 100 + (k % 3) }));
  const deal = (rank: number, seed: number, epoch: number) => splitRowGroups(units, { rank, worldSize: 2, seed, epoch });
  t.deepEqual(deal(0, 1, 0), deal(0, 1, 0));
  t.deepEqual(deal(1, 1, 0), splitRowGroups([...units].reverse(), { rank: 1, worldSize: 2, seed: 1, epoch: 0 }), 'input order does not matter');
  t.notDeepEqual(deal(0, 1, 0), deal(0, 1, 1));
  t.notDeepEqual(deal(0, 1, 0), deal(0, 2, 0));
  const key = (u: RowGroupUnit) => `${u.file}#${u.group}`;
  const a = deal(0, 1, 0).map(key);
  const b = deal(1, 1, 0).map(key);
  t.is(a.length + b.length, 40);
  t.deepEqual(new Set([...a, ...b]).size, 40);
  t.throws(() => splitRowGroups(units, { rank: 2, worldSize: 2 }), { instanceOf: RangeError });
});
