// README's Performance section quotes only figures that tests/bench/RESULTS.md (written by
// `npm run bench`) contains. Convention: in that section every measured figure is an inline
// code span that starts with a digit or a sign (`342 ns`, `1.95×`, `20.3 KB`, `+10.3%`), copied verbatim
// from RESULTS.md; this test fails for any such span RESULTS.md does not contain.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

const read = (path) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

/** The figures quoted in README's Performance section. */
export function quotedFigures(readme) {
  const start = readme.indexOf('\n## Performance');
  assert.ok(start >= 0, 'README has a Performance section');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/`([+\-−~]?[0-9][^`]*)`/g)].map((m) => m[1]);
}

test('every figure README quotes in Performance is in tests/bench/RESULTS.md', () => {
  const figures = quotedFigures(read('README.md'));
  assert.ok(figures.length >= 10, `README quotes ${figures.length} figures`);
  const results = read('tests/bench/RESULTS.md');
  const missing = figures.filter((f) => !results.includes(f));
  assert.deepEqual(missing, [], 'figures in README that RESULTS.md does not contain');
});

test('the convention catches a figure that is not in the results', () => {
  const fake = '# x\n\n## Performance\n\nIt takes `1,234,567 ns`, which no run measured.\n\n## Next\n';
  const results = read('tests/bench/RESULTS.md');
  assert.deepEqual(quotedFigures(fake).filter((f) => !results.includes(f)), ['1,234,567 ns']);
});
