// Shared by the federated security tests: development certificates (the
// federation's CA and a rogue CA with a client of the same name), toy weights,
// honest toy clients, and a raw HTTP(S) request that can present any
// credentials, as an outsider's or a misbehaving client's would.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest, Agent } from 'node:https';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { makeDevCertificates, type DevCertificates, type FederatedClient, type Weights } from '../../lib/federated/index.js';

export interface TestCerts { dir: string; good: DevCertificates; rogue: DevCertificates; cleanup(): void }

/** The federation's CA with clients `ids`, and a rogue CA that also signs a client called `ids[0]`. */
export function testCerts(ids: string[]): TestCerts {
  const dir = mkdtempSync(path.join(tmpdir(), 'bertorch-fedsec-'));
  const good = makeDevCertificates(path.join(dir, 'good'), { clients: ids });
  const rogue = makeDevCertificates(path.join(dir, 'rogue'), { clients: [ids[0]], caName: 'not the federation CA' });
  return { dir, good, rogue, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export const W = (v: number[]): Weights => new Map([['w', { shape: [v.length], data: Float32Array.from(v) }]]);

/** Moves every coordinate half-way to `target`, with 10 examples. */
export const honest = (target: number): FederatedClient => ({
  fit: async (g) => ({ delta: W(Array.from(g.get('w')!.data, (x) => (target - x) / 2)), numExamples: 10 }),
});

export interface RawOptions {
  method?: string;
  body?: Uint8Array | string;
  headers?: Record<string, string>;
  token?: string;
  /** PEM paths. */
  tls?: { ca?: string; cert?: string; key?: string };
  agent?: Agent;
}

/** One request; resolves to status, headers and body (never throws for a status). */
export function raw(url: string, o: RawOptions = {}): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer; json: () => any }> {
  const https = url.startsWith('https:');
  const read = (p?: string) => (p ? readFileSync(p) : undefined);
  return new Promise((resolve, reject) => {
    const body = typeof o.body === 'string' ? Buffer.from(o.body) : o.body;
    const req = (https ? httpsRequest : httpRequest)(url, {
      method: o.method ?? (body ? 'POST' : 'GET'),
      headers: { ...(o.token ? { authorization: `Bearer ${o.token}` } : {}), ...o.headers, ...(body ? { 'content-length': String(body.byteLength) } : {}) },
      ...(https ? (o.agent ? { agent: o.agent } : { agent: false, ca: read(o.tls?.ca), cert: read(o.tls?.cert), key: read(o.tls?.key) }) : { agent: false }),
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const b = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b, json: () => JSON.parse(b.toString()) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
