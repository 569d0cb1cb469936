#!/usr/bin/env node
// The `bertorch` command: lib/cli.ts's main(), compiled (see load.js). The
// exit code is main()'s: 0 ok, 1 runtime error, 2 usage error, 130 interrupted.
import { loadLib } from './load.js';

// `bertorch predict ... | head`: a closed pipe ends the command quietly, as with other Unix tools.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

const cli = await loadLib('cli');
process.exitCode = await cli.main(process.argv.slice(2));
// A safety net: if some handle were left open, leave anyway once output is flushed.
setTimeout(() => process.exit(), 2000).unref();
