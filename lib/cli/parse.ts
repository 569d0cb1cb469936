import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import YAML from 'yaml';
import { COMMANDS } from './commands.js';
import { UsageError, type Opt, type Opts, type Values } from './options.js';

const camel = (k: string) => k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

function convert(name: string, o: Opt, raw: unknown, from: string): unknown {
  const bad = (what: string): never => { throw new UsageError(`Expected ${what} for ${from}${name} but received ${JSON.stringify(raw)}`); };
  switch (o.kind) {
    case 'boolean':
      if (typeof raw === 'boolean') return raw;
      return raw === 'true' ? true : raw === 'false' ? false : bad('true or false');
    case 'int': case 'number': {
      const x = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
      if (!Number.isFinite(x) || (o.kind === 'int' && !Number.isInteger(x))) bad(o.kind === 'int' ? 'an integer' : 'a number');
      if (x < 0) bad('a number >= 0');
      return x;
    }
    case 'list': {
      const xs = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',') : bad('a list');
      return xs.map((x) => String(x).trim()).filter(Boolean);
    }
    default:
      if (typeof raw !== 'string' && typeof raw !== 'number') bad('a string');
      if (o.choices && !o.choices.includes(String(raw))) bad(`one of ${o.choices.join(', ')}`);
      return String(raw);
  }
}

async function readConfig(file: string, command: string, options: Opts): Promise<Values> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read --config ${file}: ${(e as Error).message}`);
  }
  let data: unknown;
  try {
    data = /\.ya?ml$/i.test(file) ? YAML.parse(text) : JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--config ${file} is not valid ${/\.ya?ml$/i.test(file) ? 'YAML' : 'JSON'}: ${(e as Error).message}`);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new UsageError(`--config ${file} must hold an object of options`);
  // Top-level keys apply to every command; a section named after a command applies to it alone.
  const flat: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(data)) if (!(k in COMMANDS)) flat[kebab(k)] = v;
  const section = (data as Record<string, unknown>)[command];
  if (section !== undefined) {
    if (section === null || typeof section !== 'object' || Array.isArray(section)) throw new UsageError(`--config ${file}: "${command}" must be an object`);
    for (const [k, v] of Object.entries(section)) flat[kebab(k)] = v;
  }
  const out: Values = {};
  for (const [k, v] of Object.entries(flat)) {
    if (k === 'config') continue;
    if (!(k in options)) throw new UsageError(`unknown option "${k}" in --config ${file} for bertorch ${command}`);
    out[k] = convert(k, options[k], v, `"${k}" in ${path.basename(file)}: `);
  }
  return out;
}

/** Flags, then the config file under them, then defaults; checks required options. */
export async function parseOptions(command: string, argv: string[]): Promise<Values | 'help'> {
  const { options } = COMMANDS[command];
  const spec: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const [k, o] of Object.entries(options)) spec[k] = o.kind === 'boolean' ? { type: 'boolean' } : { type: 'string', multiple: o.kind === 'list' };
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: spec, strict: true, allowPositionals: false, allowNegative: true } as never) as { values: Record<string, unknown> };
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/\. To specify.*$/s, '').replace(/^Unknown option/, 'unknown option'));
  }
  const flags = parsed.values;
  if (flags.help) return 'help';
  const fromConfig = typeof flags.config === 'string' ? await readConfig(flags.config, command, options) : {};
  const v: Values = {};
  for (const [k, o] of Object.entries(options)) {
    let value: unknown = o.default;
    if (k in fromConfig) value = fromConfig[k];
    if (flags[k] !== undefined) value = convert(k, o, o.kind === 'list' ? (flags[k] as string[]).flatMap((x) => x.split(',')) : flags[k], '--');
    if (o.required && (value === undefined || (Array.isArray(value) && value.length === 0))) throw new UsageError(`missing --${k} (${o.help})`);
    v[camel(k)] = value;
  }
  return v;
}
