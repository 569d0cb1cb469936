// bertorch clients in a real Flower federation: a SuperLink and a stock
// ServerApp with FedAvg from PyPI flwr (scripts/fixtures/flower_app, run by
// `flwr run`), and two bertorch BertClients speaking Flower's Fleet API
// (lib/federated/flower.ts) for two rounds on loopback. The model Flower
// aggregates must equal bertorch's own FedAvg of the same updates to 1e-6.
// Also: the wire objects bertorch writes are byte for byte Flower's.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BertForSequenceClassification } from '../lib/index.js';
import {
  BertClient, encodeWeights, FedAvg, fromModel, subtract, type ClientResult, type Weights,
} from '../lib/federated/index.js';
import { runFlowerClient } from '../lib/federated/flower.js';
import { arrayObjects, metricRecordObject, npyDecode, npyEncode, refsObject, type FlowerObject } from '../lib/federated/flower-wire.js';
import { clientShard, intentData, publicTokenizer, tinyConfig } from '../examples/federated/task.js';
import { maxDiff, PYTHON, pythonGate } from './helpers/python.js';

const { test } = pythonGate(['flwr', 'safetensors']);
const APP = fileURLToPath(new URL('../scripts/fixtures/flower_app', import.meta.url));
const BIN = path.dirname(PYTHON);
// No telemetry (Flower's would try the network and write ~/.flwr/source), the venv's flower-* commands on PATH.
const ENV = { ...process.env, PATH: `${BIN}:${process.env.PATH}`, PYTHONDONTWRITEBYTECODE: '1', OMP_NUM_THREADS: '1', FLWR_TELEMETRY_ENABLED: '0' };

test('Arrays, ArrayRecords, MetricRecords and RecordDicts are written byte for byte as Flower writes them', (t) => {
  const objects = new Map<string, FlowerObject>();
  const data = Float32Array.from({ length: 6 }, (_, i) => i / 2 - 1);  // exact in float32 on both sides
  const a = arrayObjects({ shape: [2, 3], data }, objects);
  const b = arrayObjects({ shape: [3], data: data.subarray(0, 3) }, objects);
  const m = metricRecordObject({ 'num-examples': 10, loss: 0.25, zero: 0 }, objects);
  const d = refsObject('RecordDict', [['arrays', refsObject('ArrayRecord', [['x', a], ['y', b]], objects)], ['metrics', m]], objects);
  const py = spawnSync(PYTHON, ['-c', `
import numpy as np
from flwr.app import Array, ArrayRecord, MetricRecord, RecordDict
x = (np.arange(6, dtype=np.float32) / 2 - 1).reshape(2, 3)
r = RecordDict({"arrays": ArrayRecord({"x": Array(x), "y": Array(x.ravel()[:3].copy())}), "metrics": MetricRecord({"num-examples": 10, "loss": 0.25, "zero": 0})})
print(r.object_id, r["metrics"].deflate().hex())
`], { encoding: 'utf8', env: ENV });
  t.is(py.status, 0, py.stderr);
  const [id, metricsHex] = py.stdout.trim().split(' ');
  t.is(m.content.toString('hex'), metricsHex);
  t.is(d.id, id, 'the same RecordDict id: every object under it is identical');
  const round = npyDecode(npyEncode(data, [2, 3]));
  t.deepEqual([round.shape, Array.from(round.data)], [[2, 3], Array.from(data)]);
});

const freePort = () => new Promise<number>((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
});

function waitForLine(child: ChildProcess, re: RegExp, ms: number, lines: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${re} within ${ms} ms:\n${lines.join('\n')}`)), ms);
    const on = (d: Buffer) => {
      for (const l of String(d).split('\n')) if (l.trim()) lines.push(l);
      if (re.test(lines.join('\n'))) { clearTimeout(timer); resolve(); }
    };
    child.stdout!.on('data', on);
    child.stderr!.on('data', on);
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`exited with ${code} before ${re}:\n${lines.join('\n')}`)); });
  });
}

test.serial('two bertorch clients join a Flower SuperLink; the stock FedAvg ServerApp aggregates their updates as bertorch FedAvg does (1e-6)', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bertorch-flower-'));
  const port = await freePort();
  writeFileSync(path.join(dir, 'config.toml'), `[superlink]\ndefault = "local"\n\n[superlink.local]\naddress = "127.0.0.1:${port}"\ninsecure = true\n`);
  const env = { ...ENV, FLWR_HOME: dir };
  const tok = await publicTokenizer();
  const { train } = await intentData(tok, { perIntent: 8 });
  const init = BertForSequenceClassification.create(tinyConfig(tok.vocabSize, 32), { seed: 1 });
  const initial = fromModel(init);
  writeFileSync(path.join(dir, 'initial.safetensors'), encodeWeights(initial));
  const models = [0, 1].map(() => BertForSequenceClassification.create(tinyConfig(tok.vocabSize, 32), { seed: 2 }));
  const clients = models.map((model, k) => new BertClient({ model, examples: clientShard(train, k, 2, { alpha: 1, seed: 3 }), localEpochs: 1, batchSize: 16 }));
  const trained: { round: number; global: Weights; local: Weights; numExamples: number }[][] = [[], []];
  const superlinkLines: string[] = [];
  const superlink = spawn(path.join(BIN, 'flower-superlink'), ['--insecure', '--host', '127.0.0.1', '--port', String(port), '--disable-runtime-dependency-installation'],
    { env, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const ac = new AbortController();
  let runs: Promise<number>[] = [];
  const t0 = performance.now();
  try {
    await waitForLine(superlink, /Uvicorn running on/, 60_000, superlinkLines);
    const url = `http://127.0.0.1:${port}`;
    runs = clients.map((c, k) => runFlowerClient(url, c, { signal: ac.signal, log: () => {}, onTrain: (e) => trained[k].push(e) }));
    const out = path.join(dir, 'out.json');
    const flwr = spawn(path.join(BIN, 'flwr'), ['run', APP, 'local', '--stream', '--run-config',
      `initial='${path.join(dir, 'initial.safetensors')}' out='${out}' lr=0.002 num-server-rounds=2`], { env, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const flwrLines: string[] = [];
    const done = waitForLine(flwr, /Strategy execution finished/, 150_000, flwrLines);
    const code = await new Promise<number | null>((resolve) => flwr.once('exit', resolve));
    await done.catch((e) => t.fail(e.message));
    t.is(code, 0, flwrLines.join('\n'));
    ac.abort();
    t.deepEqual(await Promise.all(runs), [2, 2], 'each client answered both rounds');
    const flower = JSON.parse(readFileSync(out, 'utf8')) as { rounds: { name: string; shape: number[]; data: number[] }[][] };
    t.is(flower.rounds.length, 2);
    let worst = 0;
    let global = initial;
    for (let r = 1; r <= 2; r++) {
      const got = trained.map((list) => list.find((e) => e.round === r)!);
      // Both clients trained from the model Flower sent, which is the previous round's aggregate (float32 exact).
      for (const g of got) for (const [k, w] of global) t.true(maxDiff(g.global.get(k)!.data, Array.from(w.data)) === 0, `round ${r}: ${k} as sent`);
      const results: ClientResult[] = got.map((g, k) => ({ clientId: `c${k}`, delta: subtract(g.local, g.global), numExamples: g.numExamples }));
      const ours = new FedAvg().aggregate(global, results, r);
      const theirs = new Map(flower.rounds[r - 1].map((a) => [a.name, a]));
      t.deepEqual([...theirs.keys()].sort(), [...ours.keys()].sort());
      for (const [k, w] of ours) worst = Math.max(worst, maxDiff(w.data, theirs.get(k)!.data));
      global = new Map([...ours].map(([k]) => [k, { shape: theirs.get(k)!.shape, data: Float32Array.from(theirs.get(k)!.data) }]));
    }
    t.log(`flwr 1.42 SuperLink + FedAvg ServerApp, 2 bertorch clients (${got(trained)} examples), 2 rounds in ${((performance.now() - t0) / 1000).toFixed(1)} s; ` +
      `largest |Flower - bertorch FedAvg| = ${worst.toExponential(2)}`);
    t.true(worst <= 1e-6, `max diff ${worst}`);
    t.true(superlinkLines.some((l) => /Fleet.PushMessages/.test(l)), 'the SuperLink logged the pushed replies');
  } finally {
    ac.abort();
    await Promise.allSettled(runs);
    superlink.kill('SIGTERM');
    const killer = setTimeout(() => superlink.kill('SIGKILL'), 10_000);
    if (superlink.exitCode === null && superlink.signalCode === null) await new Promise((r) => superlink.once('exit', r));
    clearTimeout(killer);
    for (const m of [init, ...models]) m.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

const got = (trained: { numExamples: number }[][]) => trained.map((l) => l[0]?.numExamples).join(' + ');
