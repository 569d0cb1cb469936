// Turning corpus inputs (files, directories, glob patterns) into a sorted
// list of files. Node 20 has no fs.glob, so this is a small one: `*` and `?`
// within a path segment, `**` across segments, `[abc]`/`[!abc]` classes and
// `{a,b}` alternatives; hidden entries (".name") are skipped unless the
// pattern names them. Directories are walked recursively for files whose
// extension a reader knows. Sorting makes every run see the same order.

import { readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { formatOf } from './readers.js';

const MAGIC = /[*?[{]/;

/** Whether `pattern` has glob syntax. */
export function isGlob(pattern: string): boolean {
  return MAGIC.test(pattern);
}

/** A regular expression for a glob pattern over "/"-separated paths. */
export function globToRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        const slash = pattern[i + 2] === '/';
        source += slash ? '(?:[^/]*/)*' : '.*';
        i += slash ? 2 : 1;
      } else {
        source += '[^/]*';
      }
    } else if (c === '?') {
      source += '[^/]';
    } else if (c === '[') {
      const close = pattern.indexOf(']', i + 2);
      if (close < 0) {
        source += '\\[';
        continue;
      }
      let body = pattern.slice(i + 1, close).replace(/\\/g, '\\\\');
      if (body.startsWith('!')) body = '^' + body.slice(1);
      source += `[${body}]`;
      i = close;
    } else if (c === '{') {
      const close = pattern.indexOf('}', i);
      if (close < 0) {
        source += '\\{';
        continue;
      }
      const options = pattern.slice(i + 1, close).split(',');
      source += `(?:${options.map((option) => globToRegExp(option).source.slice(1, -1)).join('|')})`;
      i = close;
    } else {
      source += c.replace(/[.+^${}()|\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${source}$`);
}

async function walk(dir: string, keep: (path: string, name: string) => boolean, out: string[], hidden: boolean): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  for (const entry of entries) {
    if (!hidden && entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await walk(path, keep, out, hidden);
    else if ((entry.isFile() || entry.isSymbolicLink()) && keep(path, entry.name)) out.push(path);
  }
}

/**
 * Expands one input: a file is itself, a directory gives every file with a
 * known extension below it, a glob gives its matches. Throws a TypeError for
 * an input that matches nothing.
 */
export async function expandInput(input: string, name: string): Promise<string[]> {
  const files: string[] = [];
  if (isGlob(input)) {
    const parts = input.split(/[\\/]/);
    const firstMagic = parts.findIndex((part) => MAGIC.test(part));
    const base = parts.slice(0, firstMagic).join('/') || (input.startsWith('/') ? '/' : '.');
    const pattern = globToRegExp(parts.slice(firstMagic).join('/'));
    const hidden = parts.slice(firstMagic).some((part) => part.startsWith('.'));
    const isDir = await stat(base).then((s) => s.isDirectory(), () => false);
    if (isDir) await walk(base, (path) => pattern.test(relative(base, path).split(sep).join('/')), files, hidden);
  } else {
    const info = await stat(input).catch(() => undefined);
    if (info?.isDirectory()) await walk(input, (_, entryName) => formatOf(entryName) !== undefined, files, false);
    else if (info?.isFile()) files.push(input);
  }
  if (files.length === 0) {
    const what = 'a file, a directory with corpus files, or a glob that matches files';
    throw new TypeError(`Expected ${what} for ${name} but received ${JSON.stringify(input)}`);
  }
  return files.sort();
}
