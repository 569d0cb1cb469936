#!/usr/bin/env node
// The `bertorch` command. Runs the compiled CLI (dist/lib/cli.js, from
// `npm run build:ts`) when it exists, else the TypeScript source through tsx
// (a checkout). The exit code is main()'s: 0 ok, 1 runtime error, 2 usage
// error, 130 interrupted.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// `bertorch predict ... | head`: a closed pipe ends the command quietly, as with other Unix tools.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

const root = new URL('../', import.meta.url);
const compiled = new URL('dist/lib/cli.js', root);
let cli;
if (existsSync(fileURLToPath(compiled))) {
  cli = await import(compiled.href);
} else {
  const { tsImport } = await import('tsx/esm/api');
  cli = await tsImport(new URL('lib/cli.ts', root).href, import.meta.url);
}
process.exitCode = await cli.main(process.argv.slice(2));
// A safety net: if some handle were left open, leave anyway once output is flushed.
setTimeout(() => process.exit(), 2000).unref();
