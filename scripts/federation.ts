/**
 * The federation operator's commands: development certificates and the
 * client registry (enrol by certificate, issue a token, revoke, list).
 * A running FederatedHttpServer given the registry's path re-reads it when it
 * changes, so `revoke` takes effect at that client's next request.
 *
 *   npx tsx scripts/federation.ts certs <dir> --clients clinic-0,clinic-1 [--names localhost,127.0.0.1,::1] [--days 30]
 *   npx tsx scripts/federation.ts enroll <registry.json> <id>          # mutual TLS: certificate CN = id
 *   npx tsx scripts/federation.ts token <registry.json> <id>           # prints the token once; stores its hash
 *   npx tsx scripts/federation.ts revoke <registry.json> <id>
 *   npx tsx scripts/federation.ts list <registry.json>
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ClientRegistry, makeDevCertificates } from '../lib/federated/index.js';

const { values: a, positionals: [cmd, target, id] } = parseArgs({
  allowPositionals: true,
  options: { clients: { type: 'string', default: '' }, names: { type: 'string' }, days: { type: 'string', default: '30' } },
});
const list = (s: string | undefined) => (s ? s.split(',').map((x) => x.trim()).filter(Boolean) : undefined);
const registry = () => (existsSync(target!) ? ClientRegistry.load(target!) : new ClientRegistry());
const need = (what: string, v: string | undefined) => { if (!v) { console.error(`Expected ${what}; see the header of scripts/federation.ts`); process.exit(2); } };

need('a command: certs | enroll | token | revoke | list', cmd);
need(cmd === 'certs' ? 'a directory' : 'a registry path', target);
if (cmd === 'certs') {
  const c = makeDevCertificates(target!, { clients: list(a.clients) ?? [], serverNames: list(a.names), days: Number(a.days) });
  console.log(`CA           ${c.ca.cert} (key ${c.ca.key}: keep it off the server)`);
  console.log(`server       ${c.server.cert} ${c.server.key}`);
  for (const [k, v] of Object.entries(c.clients)) console.log(`client ${k.padEnd(6)}${v.cert} ${v.key}`);
} else if (cmd === 'enroll' || cmd === 'token' || cmd === 'revoke') {
  need('a client id', id);
  const r = registry();
  if (cmd === 'enroll') r.enrollCertificate(id!);
  else if (cmd === 'revoke') r.revoke(id!);
  else console.log(r.issueToken(id!));
  r.save(target!);
  if (cmd !== 'token') console.log(`${id} ${cmd === 'enroll' ? 'enrolled (certificate)' : 'revoked'} in ${target}`);
} else if (cmd === 'list') {
  for (const c of registry().list())
    console.log(`${c.id.padEnd(20)} ${[c.certificate ? 'certificate' : '', c.tokenHash ? 'token' : ''].filter(Boolean).join('+').padEnd(18)} ${c.revokedAt ? `revoked ${c.revokedAt}` : 'active'}`);
} else {
  need('a command: certs | enroll | token | revoke | list', undefined);
}
