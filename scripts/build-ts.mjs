// `npm run build:ts` (and prepare / prepack): compiles lib/ to dist/ with
// declarations and source maps, so the package runs and type-checks without
// TypeScript or tsx. binding.d.ts is hand-written (the native surface), so tsc
// does not emit it: it is copied beside dist/lib/, where the emitted
// declarations import it from.
import { execFileSync } from 'node:child_process';
import { copyFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { projectRoot } from './find-libtorch.mjs';

const dist = path.join(projectRoot, 'dist');
rmSync(dist, { recursive: true, force: true });  // no stale output of a deleted source
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
try {
  execFileSync(process.execPath, [tsc, '-p', path.join(projectRoot, 'tsconfig.json')], { stdio: 'inherit', cwd: projectRoot });
} catch {
  console.error('bertorch: compiling lib/ to dist/ failed (the TypeScript errors are above)');
  process.exit(1);
}
copyFileSync(path.join(projectRoot, 'binding.d.ts'), path.join(dist, 'binding.d.ts'));
