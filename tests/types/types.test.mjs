// The type test of the public surface: tests/types/public-api.ts must type-check
// under tests/types/tsconfig.json (strict). Its `@ts-expect-error` lines are the
// mistakes that must not compile: one that compiles is an unused directive, which
// tsc reports as an error, so exit 0 proves the types catch every one of them.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

test('the public API type-checks under strict, and every @ts-expect-error mistake fails to compile', { timeout: 120_000 }, async () => {
  assert.ok(existsSync(tsc), `TypeScript is missing (${tsc}): run \`npm ci\` (or \`npm test\`, which sets up first)`);
  assert.ok(existsSync(join(root, 'js', 'dist', 'index.d.ts')),
    'js/dist/index.d.ts is missing: run `npm run build` first (the type test checks the built declarations, as users get them)');

  const { code, output } = await run(process.execPath, [tsc, '--noEmit', '-p', join(here, 'tsconfig.json')], root);
  assert.equal(code, 0, `tsc --noEmit -p tests/types failed:\n${output}`);

  // The directives are really there (a file emptied by mistake would pass too).
  const source = readFileSync(join(here, 'public-api.ts'), 'utf8');
  const directives = source.split('\n').filter((line) => line.trim().startsWith('// @ts-expect-error')).length;
  assert.ok(directives >= 60, `expected the mistakes section to hold at least 60 @ts-expect-error lines; found ${directives}`);
});

async function run(file, args, cwd) {
  try {
    const { stdout, stderr } = await promisify(execFile)(file, args, { cwd, maxBuffer: 16 << 20 });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    return { code: error.code ?? 1, output: `${error.stdout ?? ''}${error.stderr ?? ''}${error.message}` };
  }
}
