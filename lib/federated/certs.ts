/**
 * Development certificates for a federation, made with the `openssl` CLI:
 * a CA, a server certificate for the given names and addresses (loopback by
 * default), and one client certificate per client id (subject CN = the id,
 * which is what the server takes as the client's identity under mutual TLS).
 * For tests, examples and trying things out; a real federation's operator
 * runs its own CA. Keys are EC P-256, written with mode 0600.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { invalidRange } from '../errors.js';
import { CLIENT_ID_RE } from './security.js';

export interface DevCertificateOptions {
  /** Client ids to make certificates for. @default [] */
  clients?: string[];
  /** DNS names and IP addresses the server certificate is valid for. @default ['localhost', '127.0.0.1', '::1'] */
  serverNames?: string[];
  /** CA subject CN (a second CA with another name makes "wrong" certificates for tests). @default 'bertorch federation dev CA' */
  caName?: string;
  /** Validity in days. @default 30 */
  days?: number;
}

/** Paths of what {@link makeDevCertificates} wrote. */
export interface DevCertificates {
  dir: string;
  ca: { cert: string; key: string };
  server: { cert: string; key: string };
  clients: Record<string, { cert: string; key: string }>;
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    const err = e as { code?: string; stderr?: Buffer; message: string };
    if (err.code === 'ENOENT') throw new Error('openssl is not installed (it makes the development certificates); install it (apt-get install openssl) or bring your own CA');
    throw new Error(`openssl ${args[0]} failed: ${err.stderr?.toString().trim() || err.message}`);
  }
}

/**
 * Makes a CA, a server certificate and client certificates under `dir`.
 * @example
 * const certs = makeDevCertificates('federation/certs', { clients: ['clinic-0', 'clinic-1'] });
 * new FederatedHttpServer(w, { tls: { key: certs.server.key, cert: certs.server.cert, ca: certs.ca.cert }, ... });
 */
export function makeDevCertificates(dir: string, o: DevCertificateOptions = {}): DevCertificates {
  const clients = o.clients ?? [];
  for (const id of clients) if (!CLIENT_ID_RE.test(id)) invalidRange(`ids matching ${CLIENT_ID_RE}`, 'clients', id);
  const names = o.serverNames ?? ['localhost', '127.0.0.1', '::1'];
  const days = String(o.days ?? 30);
  mkdirSync(dir, { recursive: true });
  const abs = (f: string) => path.join(dir, f);
  const key = (f: string) => { openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', f], dir); chmodSync(abs(f), 0o600); };

  key('ca.key');
  openssl(['req', '-x509', '-new', '-key', 'ca.key', '-sha256', '-days', days, '-subj', `/CN=${o.caName ?? 'bertorch federation dev CA'}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', 'ca.crt'], dir);

  const sign = (name: string, cn: string, ext: string) => {
    key(`${name}.key`);
    openssl(['req', '-new', '-key', `${name}.key`, '-subj', `/CN=${cn}`, '-out', `${name}.csr`], dir);
    writeFileSync(abs(`${name}.ext`), ext);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', days, '-sha256',
      '-extfile', `${name}.ext`, '-out', `${name}.crt`], dir);
    rmSync(abs(`${name}.csr`));
    rmSync(abs(`${name}.ext`));
    return { cert: abs(`${name}.crt`), key: abs(`${name}.key`) };
  };
  const san = names.map((n) => (/^[\d.]+$/.test(n) || n.includes(':') ? `IP:${n}` : `DNS:${n}`)).join(',');
  const server = sign('server', names[0] ?? 'localhost',
    `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`);
  const out: DevCertificates = { dir, ca: { cert: abs('ca.crt'), key: abs('ca.key') }, server, clients: {} };
  for (const id of clients)
    out.clients[id] = sign(`client-${id}`, id, 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n');
  return out;
}
