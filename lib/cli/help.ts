import { COMMANDS } from './commands.js';

export function helpText(command: string): string {
  const c = COMMANDS[command];
  const rows = Object.entries(c.options).map(([k, o]) => {
    const arg = o.kind === 'boolean' ? '' : o.kind === 'list' ? ' <a,b,...>' : o.kind === 'string' ? ' <value>' : ' <n>';
    const extra = [o.required ? 'required' : '', o.choices ? `one of ${o.choices.join('|')}` : '', o.default !== undefined && o.kind !== 'boolean' ? `default ${o.default}` : '']
      .filter(Boolean).join('; ');
    return [`  --${k}${arg}`, `${o.help}${extra ? ` (${extra})` : ''}`];
  });
  rows.push(['  -h, --help', 'show this help']);
  const width = Math.max(...rows.map(([l]) => l.length)) + 2;
  return `${c.summary}\n\nUsage: ${c.usage}\n\nOptions:\n${rows.map(([l, r]) => l.padEnd(width) + r).join('\n')}\n`;
}

export const GENERAL = `bertorch: pretrain, fine-tune, evaluate and serve BERT from Node.js on libtorch

Usage: bertorch <command> [options]

Commands:
${Object.entries(COMMANDS).map(([k, c]) => `  ${k.padEnd(15)}${c.summary}`).join('\n')}

Run 'bertorch <command> --help' for a command's options. Options can also come
from --config <file.json|file.yaml>; flags win over the file.
Exit codes: 0 ok, 1 runtime error, 2 usage error, 130 interrupted.
`;
