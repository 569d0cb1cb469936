// The federated server off loopback's terms, tested on loopback: HTTPS with a
// development CA, mutual TLS and bearer tokens of enrolled clients, refusals
// (unknown, unenrolled, revoked, wrong certificate) that never reach the
// strategy, replayed / substituted updates named in the round history,
// plaintext binds off loopback refused before listening, a flooding client
// and a slow-loris connection that do not hold up the round. Real sockets,
// 127.0.0.1 only; toy weights (a 4-vector), so no libtorch work.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:tls';
import { Agent } from 'node:https';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  checkBind, ClientRegistry, encodeUpdate, FederatedHttpServer, FederatedSecurityError, macKeyOf, runHttpClient, updateMac, type FederatedClient,
} from '../lib/federated/index.js';
import { honest, raw, testCerts, W } from './helpers/federated.js';

const certs = testCerts(['alice', 'bob', 'carol', 'mallory', 'eve']);
test.after.always(() => certs.cleanup());
const G = certs.good;
const serverTls = { key: G.server.key, cert: G.server.cert, ca: G.ca.cert };
const clientTls = (id: string) => ({ ca: G.ca.cert, cert: G.clients[id].cert, key: G.clients[id].key });
const quiet = { log: () => {} };
const wOf = (s: FederatedHttpServer) => Array.from(s.core.global.get('w')!.data);

test.serial('an HTTPS round trip: clients enrolled by certificate train two rounds; the server is verified against the federation CA', async (t) => {
  const clients = new ClientRegistry();
  clients.enrollCertificate('alice');
  clients.enrollCertificate('bob');
  const lines: string[] = [];
  const server = new FederatedHttpServer(W([0, 0, 0, 0]), { tls: serverTls, clients, minClients: 2, minClientsToStart: 2, roundTimeoutMs: 20_000, log: (l) => lines.push(l) });
  const url = await server.start();
  try {
    t.regex(url, /^https:\/\/127\.0\.0\.1:\d+$/);
    // Plain HTTP to the TLS port gets nowhere.
    await t.throwsAsync(raw(url.replace('https:', 'http:') + '/v1/status'));
    // A client that trusts another CA (or none) refuses the server: nothing is sent.
    for (const ca of [certs.rogue.ca.cert, undefined]) {
      const e = await t.throwsAsync(runHttpClient(url, 'alice', honest(4), { ...quiet, tls: { ...clientTls('alice'), ca } }), { instanceOf: FederatedSecurityError });
      t.is((e as FederatedSecurityError).code, 'ERR_REFUSED');
      t.regex(e!.message, /TLS with https:\/\/127\.0\.0\.1:\d+ failed \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\)/);
    }
    const run = server.run({ rounds: 2 });
    const done = await Promise.all([
      runHttpClient(url, 'alice', honest(4), { ...quiet, tls: clientTls('alice') }),
      runHttpClient(url, 'bob', honest(8), { ...quiet, tls: clientTls('bob') }),
    ]);
    const history = await run;
    t.deepEqual(done, [2, 2]);
    t.true(history.every((h) => h.status === 'aggregated' && h.accepted.map((a) => a.clientId).join() === 'alice,bob'));
    t.deepEqual(wOf(server), [4.5, 4.5, 4.5, 4.5]);  // 0 -> 3 -> 4.5: FedAvg of half-way steps to 4 and 8
    t.true(lines.some((l) => /alice joined from 127\.0\.0\.1/.test(l)), lines.join('\n'));
  } finally {
    await server.close();
  }
});

test('listening off loopback without TLS and enrolment is refused before listening, naming both ways out', async (t) => {
  for (const host of ['0.0.0.0', '::', '192.0.2.10', 'fl.example.org']) {
    const server = new FederatedHttpServer(W([0]), { host, log: () => {} });
    const e = await t.throwsAsync(server.start(), { instanceOf: FederatedSecurityError });
    t.is((e as FederatedSecurityError).code, 'ERR_INSECURE_BIND');
    t.regex(e!.message, new RegExp(`refusing to listen on ${host.replace(/\./g, '\\.')} without TLS and client enrolment`));
    t.regex(e!.message, /tls: \{ key, cert, ca \}.*scripts\/federation\.ts certs.*insecure: true/s);
    t.throws(() => server.url, { message: /not started/ }, 'nothing is listening');
  }
  // TLS alone is not enough off loopback: clients must be enrolled too.
  const e = await t.throwsAsync(new FederatedHttpServer(W([0]), { host: '0.0.0.0', tls: serverTls, log: () => {} }).start());
  t.regex(e!.message, /without client enrolment/);
  // The explicit opt-out is logged loudly (checked without binding anything off loopback).
  const lines: string[] = [];
  checkBind('0.0.0.0', { insecure: true }, (l) => lines.push(l));
  t.regex(lines.join('\n'), /^WARNING: INSECURE: listening on 0\.0\.0\.0 without TLS and client enrolment \(insecure: true\)/);
  for (const host of ['127.0.0.1', '::1', 'localhost', '127.1.2.3']) t.notThrows(() => checkBind(host, {}, () => t.fail('no warning on loopback')));
});

test.serial('unknown, unenrolled, revoked and wrong-certificate clients get 401/403 and a log line, and never reach the strategy', async (t) => {
  const file = path.join(certs.dir, 'clients.json');
  const reg = new ClientRegistry();
  reg.enrollCertificate('alice');
  const bobToken = reg.issueToken('bob');
  const carolToken = reg.issueToken('carol');
  reg.save(file);
  t.false(readFileSync(file, 'utf8').includes(bobToken.split('.').pop()!), 'tokens are stored hashed');
  const lines: string[] = [];
  const server = new FederatedHttpServer(W([0, 0, 0, 0]), {
    tls: serverTls, clients: file, minClients: 2, minClientsToStart: 3, roundTimeoutMs: 6_000, pollMs: 2_000, log: (l) => lines.push(l),
    limits: { refusalsPerSecond: 100 },  // this test sends more refused requests than the default 5/s logs
  });
  const url = await server.start();
  const refusedLine = (status: number, why: RegExp) => lines.some((l) => new RegExp(`^refused (GET|POST) /v1/\\w+ from 127\\.0\\.0\\.1:\\d+: ${status} ${why.source}`).test(l));
  const junk = encodeUpdate({ delta: W([100, 100, 100, 100]), numExamples: 1000 }, { round: 1, clientId: 'bob' });
  const outsiders: [string, number, RegExp, Parameters<typeof raw>[1]][] = [
    ['no credentials', 401, /no credentials/, { tls: { ca: G.ca.cert } }],
    ['a token never issued', 401, /token not issued by this server/, { tls: { ca: G.ca.cert }, token: `bt1.zed.${randomBytes(32).toString('base64url')}` }],
    ["bob's id with a guessed secret", 401, /token not issued by this server/, { tls: { ca: G.ca.cert }, token: `bt1.bob.${randomBytes(32).toString('base64url')}` }],
    ['a federation certificate whose subject is not enrolled', 403, /certificate subject CN="eve" is not enrolled/, { tls: clientTls('eve') }],
    ['a certificate from another CA', 401, /client certificate CN="alice" refused: (UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)/,
      { tls: { ca: G.ca.cert, cert: certs.rogue.clients.alice.cert, key: certs.rogue.clients.alice.key } }],
  ];
  try {
    for (const [what, status, why, o] of outsiders) {
      const r = await raw(`${url}/v1/join`, { ...o, body: '{"clientId":"bob"}' });
      t.is(r.status, status, what);
      t.true(refusedLine(status, why), `${what}: ${lines.join('\n')}`);
    }
    t.is((await raw(`${url}/v1/task?client=bob&after=0`, { tls: clientTls('alice') })).status, 403, 'a certificate cannot speak for another id');
    t.true(refusedLine(403, /authenticated as alice but asked as "bob"/));

    // Two rounds of alice (certificate), bob and carol (tokens); carol is revoked in the registry file, by another
    // process's copy of it, while round 2 runs: her next request is refused.
    const carol: FederatedClient = honest(12);
    let revoked = false;
    const alice: FederatedClient = {
      async fit(g, cfg) {
        if (cfg.round === 2 && !revoked) { revoked = true; const other = ClientRegistry.load(file); other.revoke('carol'); other.save(); }
        return honest(4).fit(g, cfg);
      },
    };
    const run = server.run({ rounds: 2 });
    const clients = [
      runHttpClient(url, 'alice', alice, { ...quiet, tls: clientTls('alice') }),
      runHttpClient(url, 'bob', honest(8), { ...quiet, tls: { ca: G.ca.cert }, token: bobToken }),
      runHttpClient(url, 'carol', carol, { ...quiet, tls: { ca: G.ca.cert }, token: carolToken }),
    ];
    // Outsiders try to push updates while round 1 is open.
    while (!server.core.openRound) await new Promise((r) => setTimeout(r, 50));
    for (const [what, status, , o] of outsiders) t.is((await raw(`${url}/v1/update?client=bob&round=1`, { ...o, body: junk })).status, status, what);
    const history = await run;
    const [a, b, c] = await Promise.allSettled(clients);
    t.deepEqual([a, b], [{ status: 'fulfilled', value: 2 }, { status: 'fulfilled', value: 2 }]);
    t.is(c.status, 'rejected');
    t.regex((c as PromiseRejectedResult).reason.message, /refused (GET|POST) \/v1\/\w+: 403 carol was revoked/);
    t.true(refusedLine(403, /carol was revoked/), lines.join('\n'));
    t.deepEqual(history.map((h) => h.accepted.map((x) => x.clientId)), [['alice', 'bob', 'carol'], ['alice', 'bob']]);
    t.true(history.every((h) => h.rejected.length === 0), 'refused requests never reach the round');
    // Round 1: deltas 2, 4, 6 -> 4. Round 2 (alice, bob only): 0, 2 -> 5. Nothing of the outsiders' 100s.
    t.deepEqual(wOf(server), [5, 5, 5, 5]);
  } finally {
    await server.close();
  }
});

test.serial('a replayed update from round r is refused in round r+1; wrong-model, forged-nonce and bad-MAC updates are named in the history', async (t) => {
  const reg = new ClientRegistry();
  const tokens = Object.fromEntries(['alice', 'bob', 'mallory'].map((id) => [id, reg.issueToken(id)]));
  const lines: string[] = [];
  const server = new FederatedHttpServer(W([0, 0, 0, 0]), {
    tls: { key: G.server.key, cert: G.server.cert }, clients: reg, minClients: 2, minClientsToStart: 3, roundTimeoutMs: 20_000, log: (l) => lines.push(l),
  });
  const url = await server.start();
  const as = { tls: { ca: G.ca.cert }, token: tokens.mallory };
  const mac = macKeyOf(tokens.mallory);
  const post = (body: Uint8Array, headers: Record<string, string> = { 'x-bertorch-mac': updateMac(mac, body) }) =>
    raw(`${url}/v1/update?client=mallory`, { ...as, body, headers });
  try {
    t.is((await raw(`${url}/v1/join`, { ...as, body: '{}' })).json().clientId, 'mallory');
    const run = server.run({ rounds: 5 });
    const honestRuns = [
      runHttpClient(url, 'alice', honest(4), { ...quiet, tls: { ca: G.ca.cert }, token: tokens.alice }),
      runHttpClient(url, 'bob', honest(8), { ...quiet, tls: { ca: G.ca.cert }, token: tokens.bob }),
    ];
    const task = async (after: number) => {
      const k = (await raw(`${url}/v1/task?client=mallory&after=${after}`, as)).json();
      t.like(k, { status: 'fit', round: after + 1 });
      t.is((await raw(`${url}/v1/model?client=mallory&round=${k.round}`, as)).status, 200);
      return k as { round: number; nonce: string; modelHash: string };
    };
    const answers: unknown[] = [];
    // Round 1: an honest-looking update (delta 3).
    const k1 = await task(0);
    const update1 = encodeUpdate({ delta: W([3, 3, 3, 3]), numExamples: 10 }, { round: 1, clientId: 'mallory', nonce: k1.nonce, modelHash: k1.modelHash });
    answers.push((await post(update1)).json());
    // Round 2: the same bytes again (its MAC is still valid).
    await task(1);
    answers.push((await post(update1)).json());
    // Round 3: this round's nonce, but trained from another model.
    const k3 = await task(2);
    answers.push((await post(encodeUpdate({ delta: W([3, 3, 3, 3]), numExamples: 10 }, { round: 3, clientId: 'mallory', nonce: k3.nonce, modelHash: 'ab'.repeat(32) }))).json());
    // Round 4: a nonce the server never issued.
    const k4 = await task(3);
    answers.push((await post(encodeUpdate({ delta: W([3, 3, 3, 3]), numExamples: 10 }, { round: 4, clientId: 'mallory', nonce: randomBytes(16).toString('hex'), modelHash: k4.modelHash }))).json());
    // Round 5: a correct update whose MAC does not match (bytes changed on the way).
    const k5 = await task(4);
    answers.push((await post(encodeUpdate({ delta: W([3, 3, 3, 3]), numExamples: 10 }, { round: 5, clientId: 'mallory', nonce: k5.nonce, modelHash: k5.modelHash }), { 'x-bertorch-mac': '00'.repeat(32) })).json());
    const history = await run;
    t.deepEqual(await Promise.all(honestRuns), [5, 5]);
    t.like(answers[0], { accepted: true });
    t.like(answers[1], { accepted: false, reason: 'replay', message: 'nonce issued to mallory for round 1, sent again in round 2' });
    t.like(answers[2], { accepted: false, reason: 'model' });
    t.like(answers[3], { accepted: false, reason: 'nonce' });
    t.like(answers[4], { accepted: false, reason: 'mac' });
    t.deepEqual(history.map((h) => h.rejected.map((r) => `${r.clientId}:${r.reason}`)), [[], ['mallory:replay'], ['mallory:model'], ['mallory:nonce'], ['mallory:mac']]);
    t.deepEqual(history.map((h) => h.accepted.length), [3, 2, 2, 2, 2]);
    // 0 -> 3 (deltas 2, 4, 3) -> 4.5 -> 5.25 -> 5.625 -> 5.8125: the refused updates changed nothing.
    t.deepEqual(wOf(server), [5.8125, 5.8125, 5.8125, 5.8125]);
    t.true(lines.some((l) => /round 2: rejected the update of mallory: replay: nonce issued to mallory for round 1/.test(l)));
    // After the last round: no round is open, so any update is stale.
    t.like((await post(update1)).json(), { accepted: false, reason: 'stale' });
  } finally {
    await server.close();
  }
});

test.serial('a flood from one enrolled client and from strangers does not delay the rounds past their deadline', async (t) => {
  const reg = new ClientRegistry();
  const tokens = Object.fromEntries(['alice', 'bob', 'mallory'].map((id) => [id, reg.issueToken(id)]));
  const lines: string[] = [];
  const deadline = 15_000;
  const server = new FederatedHttpServer(W(new Array(4096).fill(0)), {
    tls: { key: G.server.key, cert: G.server.cert }, clients: reg, minClients: 2, minClientsToStart: 3, roundTimeoutMs: deadline,
    limits: { requestsPerSecond: 5, burst: 10 }, log: (l) => lines.push(l),
  });
  const url = await server.start();
  const agent = new Agent({ keepAlive: true, maxSockets: 24, ca: readFileSync(G.ca.cert) });
  const counts = new Map<number | string, number>();
  let stop = false;
  const junk = randomBytes(200_000);
  const paths = ['/v1/task?after=999', '/v1/model?round=1', '/v1/status', '/v1/update'];
  const flood = async (k: number) => {
    for (let i = 0; !stop; i++) {
      const p = paths[(i + k) % paths.length];
      const token = k % 3 === 0 ? `bt1.nobody.${'x'.repeat(43)}` : tokens.mallory;  // a third of the flood is strangers
      const r = await raw(`${url}${p}`, { agent, token, ...(p === '/v1/update' ? { body: junk } : {}) }).catch((e) => ({ status: String(e.code) }));
      counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
    }
  };
  try {
    await raw(`${url}/v1/join`, { agent, token: tokens.mallory, body: '{}' });
    const flooders = Array.from({ length: 24 }, (_, k) => flood(k));
    const run = server.run({ rounds: 3 });
    const honestRuns = [
      runHttpClient(url, 'alice', honest(4), { ...quiet, tls: { ca: G.ca.cert }, token: tokens.alice }),
      runHttpClient(url, 'bob', honest(8), { ...quiet, tls: { ca: G.ca.cert }, token: tokens.bob }),
    ];
    const history = await run;
    stop = true;
    await Promise.all(flooders);
    t.deepEqual(await Promise.all(honestRuns), [3, 3]);
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    t.log(`flood: ${total} requests, by status ${JSON.stringify(Object.fromEntries(counts))}; rounds took ${history.map((h) => h.seconds.toFixed(2)).join(', ')} s`);
    for (const h of history) {
      t.is(h.status, 'aggregated');
      t.deepEqual(h.accepted.map((a) => a.clientId), ['alice', 'bob']);
      t.true(h.seconds < deadline / 1000, `round ${h.round} took ${h.seconds} s (deadline ${deadline / 1000} s)`);
    }
    t.true((counts.get(429) ?? 0) > total / 2, 'most of the flood is turned away by the rate limits');
    t.deepEqual(wOf(server).slice(0, 2), [5.25, 5.25]);
  } finally {
    stop = true;
    agent.destroy();
    await server.close();
  }
});

test.serial('a slow-loris connection is closed after headersTimeout while other clients are served', async (t) => {
  const server = new FederatedHttpServer(W([0]), { tls: { key: G.server.key, cert: G.server.cert }, limits: { headersTimeoutMs: 2_000 }, log: () => {} });
  const url = await server.start();
  const { port } = new URL(url);
  try {
    const t0 = performance.now();
    const sock = connect({ host: '127.0.0.1', port: Number(port), ca: readFileSync(G.ca.cert), servername: 'localhost' });
    await new Promise((r) => sock.once('secureConnect', r));
    sock.write('GET /v1/status HTTP/1.1\r\nHost: x\r\n');
    let answer = '';
    sock.on('data', (d) => { answer += d; });
    const drip = setInterval(() => { if (!sock.destroyed) sock.write('X'); }, 300);
    const closed = new Promise((r) => sock.once('close', r));
    // Meanwhile an ordinary request is answered.
    t.is((await raw(`${url}/v1/status`, { tls: { ca: G.ca.cert } })).status, 200);
    await closed;
    clearInterval(drip);
    const s = (performance.now() - t0) / 1000;
    t.log(`slow-loris connection closed after ${s.toFixed(1)} s (${answer.split('\r\n')[0] || 'no answer'})`);
    t.true(s >= 1.5 && s < 10, `closed after ${s} s`);
    t.regex(answer, /^(HTTP\/1\.1 408|)/);
  } finally {
    await server.close();
  }
});
