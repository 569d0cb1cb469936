// Federated training over HTTP on loopback: real client processes
// (examples/federated/client.ts) with one killed in the middle of a round, and
// a hostile client sending garbage and oversized bodies to the server.
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { BertForSequenceClassification } from '../lib/index.js';
import { encodeUpdate, FederatedHttpServer, fromModel, runHttpClient, type FederatedClient, type Weights } from '../lib/federated/index.js';
import { publicTokenizer, tinyConfig } from '../examples/federated/task.js';

const CLIENT = fileURLToPath(new URL('../examples/federated/client.ts', import.meta.url));
const allFinite = (w: Weights) => [...w.values()].every((t) => t.data.every(Number.isFinite));

test.serial('a client process killed mid-round does not stop training', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'bertorch-fed-'));
  const tok = await publicTokenizer();
  await tok.save(dir);
  const lines: string[] = [];
  const model = BertForSequenceClassification.create(tinyConfig(tok.vocabSize, 32), { seed: 1 });
  const server = new FederatedHttpServer(fromModel(model), {
    // Round deadline with room for a loaded 2-core CI machine (the slow client needs ~4-6 s there).
    minClients: 2, minClientsToStart: 3, seed: 1, roundTimeoutMs: 12_000, clientTimeoutMs: 20_000,
    fitConfig: { lr: 2e-3, localEpochs: 1 }, log: (l) => lines.push(l),
  });
  const url = await server.start();
  t.regex(url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const children: ChildProcess[] = [];
  const events: Record<string, { event: string; round?: number }[]> = {};
  const exits = new Map<string, Promise<[number | null, string | null]>>();
  for (let k = 0; k < 3; k++) {
    const id = `client-${k}`;
    // client-2 is a slow device (3 s before training), so the kill lands while it holds the round open.
    const child = spawn(process.execPath, ['--import', 'tsx', CLIENT, '--server', url, '--id', id, '--index', String(k), '--clients', '3',
      '--tokenizer', dir, '--per-intent', '10', '--hidden', '32', ...(k === 2 ? ['--delay-ms', '3000'] : [])],
    { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stderr!.on('data', (d) => lines.push(`[stderr ${id}] ${String(d).trim()}`));
    events[id] = [];
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const e = JSON.parse(line);
      events[id].push(e);
      if (id === 'client-2' && e.event === 'pulled' && e.round === 2) child.kill('SIGKILL');
    });
    exits.set(id, new Promise((resolve) => child.once('exit', (code, signal) => resolve([code, signal]))));
    children.push(child);
  }
  try {
    const history = await server.run({ rounds: 4 });
    t.log(history.map((h) => `round ${h.round}: ${h.status}, sampled ${h.sampled.join(' ')}, accepted ${h.accepted.map((x) => x.clientId).join(' ')}` +
      `${h.dropped.length ? `, dropped ${h.dropped.join(' ')}` : ''} (${h.seconds.toFixed(1)} s)`).join('\n'));
    t.is(history.length, 4);
    t.true(history.every((h) => h.status === 'aggregated'));
    t.deepEqual(history[0].sampled, ['client-0', 'client-1', 'client-2']);
    t.deepEqual(history[1].sampled, ['client-0', 'client-1', 'client-2']);
    t.deepEqual(history[1].accepted.map((x) => x.clientId), ['client-0', 'client-1']);
    t.deepEqual(history[1].dropped, ['client-2']);
    for (const h of history.slice(2)) t.deepEqual(h.sampled, ['client-0', 'client-1'], 'the lost client is not sampled again');
    t.true(allFinite(server.core.global));
    t.deepEqual(await exits.get('client-2'), [null, 'SIGKILL']);
    for (const id of ['client-0', 'client-1']) {
      t.deepEqual(await exits.get(id), [0, null], lines.join('\n'));
      t.like(events[id].at(-1), { event: 'done', rounds: 4 } as object);
    }
    t.true(lines.some((l) => /round 2: aggregated 2 updates .*1 dropped \(client-2\)/.test(l)), lines.join('\n'));
  } finally {
    await server.close();
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    model.dispose();
  }
});

test.serial('the HTTP server rejects garbage and oversized uploads and closes the round with the honest clients', async (t) => {
  const W = (v: number[]): Weights => new Map([['w', { shape: [v.length], data: Float32Array.from(v) }]]);
  const honest = (target: number): FederatedClient => ({
    fit: async (g) => ({ delta: W(Array.from(g.get('w')!.data, (x) => (target - x) / 2)), numExamples: 10 }),
  });
  const lines: string[] = [];
  const server = new FederatedHttpServer(W([0, 0, 0, 0]), { minClients: 2, minClientsToStart: 3, roundTimeoutMs: 10_000, maxBodyBytes: 4096, log: (l) => lines.push(l) });
  const url = await server.start();
  const quiet = { log: () => {} };
  const post = (p: string, body: Uint8Array | string) => fetch(`${url}${p}`, { method: 'POST', body });
  const get = async (p: string) => (await fetch(`${url}${p}`)).json() as Promise<any>;

  t.is((await post('/v1/join', JSON.stringify({ clientId: '../etc' }))).status, 400);
  t.is((await post('/v1/join', JSON.stringify({ clientId: 'mallory' }))).status, 200);
  const firstTask = get('/v1/task?client=mallory&after=0');
  const run = server.run({ rounds: 2 });
  const clients = [runHttpClient(url, 'alice', honest(4), quiet), runHttpClient(url, 'bob', honest(8), quiet)];

  const task1 = await firstTask;
  t.like(task1, { status: 'fit', round: 1 });
  const model = await fetch(`${url}/v1/model?round=1&client=mallory`);
  t.is(model.headers.get('content-type'), 'application/octet-stream');
  const garbage = await post('/v1/update?client=mallory&round=1', new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]));
  t.is(garbage.status, 400);
  t.like(await garbage.json(), { accepted: false, reason: 'decode' });

  const task2 = await get('/v1/task?client=mallory&after=1');
  t.like(task2, { status: 'fit', round: 2 });
  const big = await post('/v1/update?client=mallory&round=2', encodeUpdate({ delta: W(new Array(5000).fill(0)), numExamples: 1 }, { round: 2, clientId: 'mallory' }));
  t.is(big.status, 413);
  t.like(await big.json(), { accepted: false, reason: 'size' });
  const stale = await post('/v1/update?client=mallory&round=1', encodeUpdate({ delta: W([0, 0, 0, 0]), numExamples: 1 }, { round: 1, clientId: 'mallory' }));
  t.like(await stale.json(), { accepted: false, reason: 'duplicate' });  // mallory has answered round 2 already

  const history = await run;
  t.deepEqual(await Promise.all(clients), [2, 2]);
  t.deepEqual(history.map((h) => h.rejected.map((r) => `${r.clientId}:${r.reason}`)), [['mallory:decode'], ['mallory:size']]);
  t.true(history.every((h) => h.status === 'aggregated' && h.accepted.length === 2));
  // Two FedAvg rounds of clients moving half-way to 4 and 8: 0 -> 3 -> 4.5.
  t.deepEqual(Array.from(server.core.global.get('w')!.data), [4.5, 4.5, 4.5, 4.5]);
  t.like(await get('/v1/task?client=mallory&after=2'), { status: 'done' });
  t.true(lines.some((l) => /rejected the update of mallory: size/.test(l)));
  await server.close();
});
