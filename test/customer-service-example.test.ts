// examples/customer-service/server.ts run as its README says (tsx, a child
// process): it calibrates, listens, answers a paraphrase with its intent,
// hands an out-of-scope question to a person, shares forward passes between
// concurrent requests, and refuses a bad body with 400.
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { miniLMGate } from './helpers/minilm.js';

const { dir: minilm, test: mtest } = miniLMGate();
let child: ChildProcess | undefined;
test.after.always(() => { child?.kill('SIGTERM'); });

mtest('the customer-service example answers, falls back and micro-batches over HTTP', async (t) => {
  child = spawn(process.execPath, ['--import', 'tsx', path.resolve('examples/customer-service/server.ts'), '--model', minilm!, '--port', '0'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, OMP_NUM_THREADS: '1' } });
  let stderr = '';
  child.stderr!.on('data', (d) => { stderr += d; });
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child!.stdout! }).once('line', (l) => resolve(JSON.parse(l).listening));
    child!.once('exit', (code) => reject(new Error(`server exited with ${code}: ${stderr}`)));
  });
  const ask = async (question: unknown) => {
    const r = await fetch(`${url}/ask`, { method: 'POST', body: JSON.stringify({ question }) });
    return { status: r.status, body: await r.json() as any };
  };
  const pw = await ask('i forgot my password and cannot log in');
  t.is(pw.status, 200);
  t.like(pw.body, { intent: 'password_reset', fallback: false });
  t.is(typeof pw.body.matchedQuestion, 'string');
  const oos = await ask('what will the weather be like tomorrow');
  t.true(oos.body.fallback);
  t.regex(oos.body.answer, /connect you with a person/);
  const before = (await (await fetch(`${url}/stats`)).json() as any).batches;
  const many = await Promise.all(Array.from({ length: 16 }, (_, i) => ask(`where is my parcel number ${i}`)));
  t.true(many.every((r) => r.status === 200));
  const after = await (await fetch(`${url}/stats`)).json() as any;
  t.log(`16 concurrent questions in ${after.batches - before} forward passes; ${stderr.trim().split('\n').pop()}`);
  t.true(after.batches - before < 16);
  t.is((await ask('')).status, 400);
  const health = await (await fetch(`${url}/health`)).json() as any;
  t.true(health.calibration.reached);
});
