#!/usr/bin/env node
// bertorch-run --nproc N script.js [args...]: see lib/distributed/launcher.ts.
import { register } from 'node:module';
const argv = process.argv.slice(2);
const usage = 'usage: bertorch-run --nproc N [--master-port P] script.(js|ts) [args...]';
let nproc = 1;
let port;
while (argv[0]?.startsWith('--')) {
  const flag = argv.shift();
  if (flag === '--help' || flag === '-h') { console.log(usage); process.exit(0); }
  const value = Number(argv.shift());
  if (flag === '--nproc' || flag === '--nproc-per-node') nproc = value;
  else if (flag === '--master-port') port = value;
  else { console.error(`bertorch-run: unknown option ${flag}\n${usage}`); process.exit(2); }
  if (!Number.isInteger(value) || value < 1) { console.error(`bertorch-run: ${flag} expects a positive integer\n${usage}`); process.exit(2); }
}
const script = argv.shift();
if (!script) { console.error(usage); process.exit(2); }
try { register('tsx/esm', import.meta.url); } catch { /* plain JS install */ }
const { launch } = await import('../lib/distributed/launcher.ts').catch(() => import('../dist/lib/distributed/launcher.js'));
const nodeArgs = script.endsWith('.ts') || script.endsWith('.mts') ? ['--import', 'tsx'] : [];
process.exit(await launch({ nproc, script, args: argv, masterPort: port, nodeArgs }));
