// `test` for files that need the Gloo backend. A build that left Gloo out on
// purpose (BERTORCH_WITHOUT_GLOO=1 at install, recorded in
// build/bertorch-build.json) skips them and says why; any other build without
// Gloo runs them, so they fail and name the missing backend.
import avaTest, { type TestFn } from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { distributedBackends } from '../../lib/index.js';

function omittedOnPurpose(): string | undefined {
  if (distributedBackends().includes('gloo')) return undefined;
  const file = new URL('../../build/bertorch-build.json', import.meta.url);
  const build = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  const why = build.gloo?.omitted ?? (process.env.BERTORCH_WITHOUT_GLOO ? 'BERTORCH_WITHOUT_GLOO=1' : undefined);
  return why && `this build left Gloo out on purpose (${why})`;
}

export const glooSkipReason = omittedOnPurpose();

function skipping(reason: string): TestFn {
  const skip = (title: string, ...rest: unknown[]) => (avaTest.skip as any)(`${title} (skipped: ${reason})`, ...rest);
  // Hooks stay ava's; every way to declare a test (test, serial, only) declares a skipped one.
  return Object.assign(skip, avaTest, { serial: skip, only: skip, skip: avaTest.skip }) as unknown as TestFn;
}

if (glooSkipReason) console.log(`skipping the Gloo tests: ${glooSkipReason}`);
export const test: TestFn = glooSkipReason ? skipping(glooSkipReason) : avaTest;
export default test;
