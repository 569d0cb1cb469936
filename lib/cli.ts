/**
 * The `bertorch` command: pretrain | finetune | evaluate | predict, each the
 * library's pipeline with its defaults (HF's run_mlm / run_glue / run_ner).
 * Options come from flags and an optional --config file (JSON or YAML; flags
 * win). Exit codes: 0 done, 1 runtime error, 2 usage error (with a message
 * naming the option and a pointer to --help), 130 stopped by Ctrl-C (after a
 * checkpoint). Results go to stdout; progress and logs to stderr.
 * Everything heavy runs through lib/: tokenizing on the libuv pool, steps and
 * forward passes on libtorch worker threads.
 */
import { readFile } from 'node:fs/promises';
import { COMMANDS } from './cli/commands.js';
import type { Io } from './cli/command.js';
import { GENERAL, helpText } from './cli/help.js';
import { UsageError, type Values } from './cli/options.js';
import { parseOptions } from './cli/parse.js';

export { UsageError } from './cli/options.js';
export { parseOptions } from './cli/parse.js';
export type { Io } from './cli/command.js';

/**
 * Runs `bertorch <argv>` and resolves to the exit code (it never calls process.exit).
 * @example process.exitCode = await main(process.argv.slice(2));
 */
export async function main(argv: string[], io: Io = process): Promise<number> {
  let [command, ...rest] = argv;
  // A command with subcommands (`bertorch rank train`) is registered as 'rank train'.
  if (command !== undefined && !(command in COMMANDS) && rest[0] !== undefined && `${command} ${rest[0]}` in COMMANDS) {
    command = `${command} ${rest[0]}`;
    rest = rest.slice(1);
  }
  const err = (msg: string) => io.stderr.write(msg.endsWith('\n') ? msg : msg + '\n');
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    const target = command === 'help' ? rest[0] : undefined;
    if (target && target in COMMANDS) io.stdout.write(helpText(target));
    else (command === undefined ? err : (m: string) => io.stdout.write(m))(GENERAL);
    return command === undefined ? 2 : 0;
  }
  if (command === '--version' || command === '-v') {
    const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8').catch(() => readFile(new URL('../../package.json', import.meta.url), 'utf8')));
    io.stdout.write(`${pkg.version}\n`);
    return 0;
  }
  const subcommands = Object.keys(COMMANDS).filter((k) => k.startsWith(`${command} `));
  if (!(command in COMMANDS) && subcommands.length) {
    const help = rest.includes('--help') || rest.includes('-h');
    (help ? (m: string) => io.stdout.write(m) : err)(`Usage: bertorch ${command} <${subcommands.map((k) => k.split(' ')[1]).join('|')}> [options]\n\n` +
      subcommands.map((k) => `  ${k.padEnd(16)}${COMMANDS[k].summary}`).join('\n') + `\n\nRun 'bertorch ${command} <subcommand> --help' for its options.\n`);
    return help ? 0 : 2;
  }
  if (!(command in COMMANDS)) {
    err(`bertorch: unknown command '${command}' (expected one of ${Object.keys(COMMANDS).join(', ')}); run 'bertorch --help'`);
    return 2;
  }
  let values: Values | 'help';
  try {
    values = await parseOptions(command, rest);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    err(`bertorch ${command}: ${e.message}\nRun 'bertorch ${command} --help' for the options.`);
    return 2;
  }
  if (values === 'help') {
    io.stdout.write(helpText(command));
    return 0;
  }
  try {
    return await COMMANDS[command].run(values, io);
  } catch (e) {
    if (e instanceof UsageError) {
      err(`bertorch ${command}: ${e.message}\nRun 'bertorch ${command} --help' for the options.`);
      return 2;
    }
    const code = (e as { code?: string } | null)?.code;
    err(`bertorch ${command}: ${(e as Error)?.message ?? e}${code && !String((e as Error).message).includes(code) ? ` [${code}]` : ''}`);
    if (process.env.BERTORCH_DEBUG) err(String((e as Error)?.stack));
    return 1;
  }
}
