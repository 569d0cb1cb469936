// Rewrites the RUNPATH (or RPATH) of an ELF64 shared object in place, as
// `chrpath -r` does: the new path must be no longer than the old one, and the
// rest of the string is filled with NULs. A prebuilt binary must not carry
// the build machine's libtorch folder (it might exist on a user's machine and
// hold another libtorch); lib/binding.ts loads the local libtorch first instead.
// Used by prebuild.mjs and test/prebuilt.test.ts, so neither needs patchelf.
// Usage: node scripts/strip-rpath.mjs file.node [newpath]   (default '$ORIGIN')
import { readFileSync, writeFileSync } from 'node:fs';

const PT_LOAD = 1, PT_DYNAMIC = 2;
const DT_NULL = 0n, DT_STRTAB = 5n, DT_RPATH = 15n, DT_RUNPATH = 29n;

/** Returns the old path list; throws on anything but a little-endian ELF64 with a run path. */
export function setRunpath(file, value = '$ORIGIN') {
  const b = readFileSync(file);
  if (b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2 || b[5] !== 1) throw new Error(`${file}: not a little-endian ELF64 file`);
  const phoff = Number(b.readBigUInt64LE(0x20));
  const phentsize = b.readUInt16LE(0x36), phnum = b.readUInt16LE(0x38);
  const segments = [];
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    segments.push({ type: b.readUInt32LE(o), offset: Number(b.readBigUInt64LE(o + 8)), vaddr: Number(b.readBigUInt64LE(o + 16)), filesz: Number(b.readBigUInt64LE(o + 32)) });
  }
  const dynamic = segments.find((s) => s.type === PT_DYNAMIC);
  if (!dynamic) throw new Error(`${file}: no dynamic section`);
  let strtab, pathAt;
  for (let o = dynamic.offset; o < dynamic.offset + dynamic.filesz; o += 16) {
    const tag = b.readBigInt64LE(o), val = Number(b.readBigUInt64LE(o + 8));
    if (tag === DT_NULL) break;
    if (tag === DT_STRTAB) strtab = val;
    if (tag === DT_RUNPATH || tag === DT_RPATH) pathAt = val;
  }
  if (strtab === undefined || pathAt === undefined) throw new Error(`${file}: no RUNPATH or RPATH entry`);
  const load = segments.find((s) => s.type === PT_LOAD && strtab >= s.vaddr && strtab < s.vaddr + s.filesz);
  if (!load) throw new Error(`${file}: the string table is in no loaded segment`);
  const start = strtab - load.vaddr + load.offset + pathAt;
  const end = b.indexOf(0, start);
  const old = b.toString('utf8', start, end);
  if (Buffer.byteLength(value) > end - start) throw new Error(`${file}: '${value}' is longer than the old run path '${old}'`);
  b.fill(0, start, end);
  b.write(value, start, 'utf8');
  writeFileSync(file, b);
  return old;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, value] = process.argv.slice(2);
  if (!file) { console.error('usage: node scripts/strip-rpath.mjs file.node [newpath]'); process.exit(2); }
  console.log(`${file}: run path '${setRunpath(file, value)}' -> '${value ?? '$ORIGIN'}'`);
}
