// Hostile calls over the whole public API (issue 22): every exported
// function, constructor, static and instance method called with wrong types,
// NaN, negative and absurd sizes, disposed tensors and models, unknown
// devices, and concurrent calls on one model, in child processes
// (helpers/fuzz-native-child.ts) so a crash or a hang is seen and named by
// the call that caused it. 0 crashes and 0 hangs, and the three calls that
// ran past 60 s before (PreTrainedBert's constructor, argmaxRows,
// runHttpClient) fail fast with a clear error.
// In npm test: 2,000 calls. The long run: FUZZ_RUNS=20000 npx ava test/fuzz-native.test.ts

import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { argmaxRows, PreTrainedBert, runHttpClient, type FederatedClient } from '../lib/index.js';
import { fuzzRuns } from './helpers/fuzz-mutate.js';

const child = fileURLToPath(new URL('./helpers/fuzz-native-child.ts', import.meta.url));
const tsx = import.meta.resolve('tsx');
const BATCH = 1000;
const QUIET_MS = 90_000; // no new call started for this long: a hang

interface Tally { calls: number; returned: number; threw: Record<string, number>; hangs: string[]; concurrent: number }

function runBatch(cwd: string, first: number, count: number): Promise<{ tally?: Tally; code: number | null; signal: string | null; hung: boolean; last: string }> {
  return new Promise((resolve) => {
    const seed = String(Number(process.env.FUZZ_SEED ?? 22));
    const p = spawn(process.execPath, ['--import', tsx, child, seed, String(first), String(count)], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let last = '';
    let tail = '';
    let hung = false;
    let timer = setTimeout(() => {}, 0);
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        hung = true;
        p.kill('SIGKILL');
      }, QUIET_MS);
    };
    arm();
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d: Buffer) => {
      tail = (tail + d.toString()).slice(-4000);
      const calls = tail.split('\n').filter((l) => l.startsWith('call '));
      if (calls.length) last = calls[calls.length - 1];
      arm();
    });
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith('{"calls"'));
      // How to rerun the batch alone: node --import tsx test/helpers/fuzz-native-child.ts <seed> <first> <count>
      resolve({ tally: line ? (JSON.parse(line) as Tally) : undefined, code, signal, hung, last: `${last} (batch: seed ${seed}, first ${first}, count ${count})\n${tail.slice(-1500)}` });
    });
  });
}

test('hostile calls over every export crash nothing and hang nothing', async (t) => {
  const cwd = await mkdtemp(join(tmpdir(), 'bertorch-fuzz-native-'));
  t.teardown(() => rm(cwd, { recursive: true, force: true }));
  const total = fuzzRuns(2000);
  const sum = { calls: 0, returned: 0, threw: 0, crashes: 0, hangs: 0, concurrent: 0 };
  const kinds: Record<string, number> = {};
  for (let first = 0; first < total; first += BATCH * 2) {
    const batches = [first, first + BATCH].filter((f) => f < total).map((f) => runBatch(cwd, f, Math.min(BATCH, total - f)));
    for (const r of await Promise.all(batches)) {
      if (r.hung) sum.hangs++;
      else if (r.code !== 0 || r.signal !== null) sum.crashes++;
      t.false(r.hung, `a batch stopped making calls for ${QUIET_MS} ms at ${r.last}`);
      t.true(r.hung || (r.code === 0 && r.signal === null), `a batch died (code ${r.code}, signal ${r.signal}) at ${r.last}`);
      if (!r.tally) continue;
      sum.calls += r.tally.calls;
      sum.returned += r.tally.returned;
      sum.concurrent += r.tally.concurrent;
      sum.hangs += r.tally.hangs.length;
      t.deepEqual(r.tally.hangs, [], 'async calls that did not settle within 20 s');
      for (const [k, n] of Object.entries(r.tally.threw)) {
        kinds[k] = (kinds[k] ?? 0) + n;
        sum.threw += n;
      }
    }
  }
  t.true(sum.calls >= total * 0.99, `${sum.calls} of ${total} calls made`);
  t.log(`native fuzz (seed ${process.env.FUZZ_SEED ?? 22}): ${JSON.stringify({ ...sum, errors: kinds })}`);
  console.log(`native fuzz (seed ${process.env.FUZZ_SEED ?? 22}): ${JSON.stringify({ ...sum, errors: kinds })}`);
});

test('a PreTrainedBert constructor given absurd sizes and argmaxRows given a bad row size fail at once', (t) => {
  const started = Date.now();
  const Ctor = PreTrainedBert as unknown as new (c: object, a: string, s: number) => unknown;
  t.throws(() => new Ctor({ num_hidden_layers: 1e9 }, 'BertModel', 1), { instanceOf: RangeError, message: /fit in the .* of memory/ });
  t.throws(() => new Ctor({ hidden_size: 8, num_attention_heads: 2, intermediate_size: 8 }, 'NoSuchHead', 1), { instanceOf: RangeError, message: /for architecture/ });
  t.throws(() => argmaxRows(new Float32Array(10), 0.001), { instanceOf: RangeError, message: /for size but received 0.001/ });
  t.throws(() => argmaxRows([1, 2] as never, 2), { instanceOf: TypeError, message: /Expected a Float32Array for data/ });
  t.true(Date.now() - started < 5000);
});

const nobody: FederatedClient = { fit: async () => { throw new Error('never called'); } } as unknown as FederatedClient;

test('runHttpClient gives up on a server that never answers within deadlineMs, and on a dead one after maxRetries', async (t) => {
  const sockets: Socket[] = [];
  const silent: Server = createServer((s) => sockets.push(s)); // accepts, never answers
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    silent.close();
  });
  const port = (silent.address() as { port: number }).port;
  let started = Date.now();
  const late = await t.throwsAsync(runHttpClient(`http://127.0.0.1:${port}`, 'c1', nobody, { deadlineMs: 500, log: () => {} }));
  t.regex(late!.message, /federated server http:\/\/127\.0\.0\.1:\d+ unreachable: no answer within deadlineMs \(500 ms\)/);
  t.true(Date.now() - started < 5000, `gave up after ${Date.now() - started} ms`);
  const dead = await new Promise<number>((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  started = Date.now();
  const refused = await t.throwsAsync(runHttpClient(`http://127.0.0.1:${dead}`, 'c1', nobody, { maxRetries: 2, log: () => {} }));
  t.regex(refused!.message, /unreachable: 3 failed tries \(maxRetries 2\)/);
  t.true(Date.now() - started < 5000);
  await t.throwsAsync(runHttpClient('x', 'c1', nobody), { instanceOf: RangeError, message: /Expected an http:\/\/ or https:\/\/ URL for url/ });
  await t.throwsAsync(runHttpClient('http://127.0.0.1:1', 'c1', nobody, { maxRetries: NaN }), { instanceOf: RangeError, message: /for maxRetries/ });
  await t.throwsAsync(runHttpClient('http://127.0.0.1:1', 'c1', nobody, { deadlineMs: -1 }), { instanceOf: RangeError, message: /for deadlineMs/ });
});
