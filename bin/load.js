// How the bins load bertorch's own code: an installed package runs the
// compiled JavaScript in dist/ (no TypeScript tooling at run time); a checkout
// (tsconfig.json is not packed) runs lib/*.ts through tsx's API, so an edit
// needs no rebuild.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = new URL('../', import.meta.url);
export const isCheckout = existsSync(fileURLToPath(new URL('tsconfig.json', root)));

/** Imports lib/<name>.ts in a checkout, else dist/lib/<name>.js. */
export async function loadLib(name) {
  if (isCheckout) {
    const { tsImport } = await import('tsx/esm/api');
    return tsImport(new URL(`lib/${name}.ts`, root).href, import.meta.url);
  }
  const compiled = new URL(`dist/lib/${name}.js`, root);
  if (!existsSync(fileURLToPath(compiled))) {
    console.error(`bertorch: ${fileURLToPath(compiled)} is missing: this package was packed without \`npm run build:ts\``);
    process.exit(1);
  }
  return import(compiled.href);
}
