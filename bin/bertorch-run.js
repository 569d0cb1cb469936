#!/usr/bin/env node
// bertorch-run --nproc N script.js [args...]: see lib/distributed/launcher.ts.
// A TypeScript entry point runs under `node --import tsx` (tsx's supported
// way), with tsx resolved from the script's project, the current folder, or
// bertorch's own dependencies; when none has it, the error says so before any
// rank starts.
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadLib } from './load.js';

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

/** tsx's loader as a file URL for `--import`, or null. */
function findTsx() {
  const from = [path.resolve(script), path.join(process.cwd(), 'package.json'), import.meta.url];
  for (const base of from) {
    try {
      return pathToFileURL(createRequire(base).resolve('tsx')).href;
    } catch { /* try the next place */ }
  }
  return null;
}

let nodeArgs = [];
if (/\.[mc]?ts$/.test(script)) {
  const tsx = findTsx();
  if (!tsx) {
    console.error(`bertorch-run: ${script} is TypeScript, and tsx (which runs it) is not installed in its project, ` +
      `in ${process.cwd()} or beside bertorch. Fix: npm install --save-dev tsx   (or run the compiled .js)`);
    process.exit(2);
  }
  nodeArgs = ['--import', tsx];
}
const { launch } = await loadLib('distributed/launcher');
process.exit(await launch({ nproc, script, args: argv, masterPort: port, nodeArgs }));
