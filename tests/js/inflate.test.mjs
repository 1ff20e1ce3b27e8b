// The inline entries carry each wasm module deflated and inflate it when loaded
// (js/src/wasm/inflate.ts, .ci/inline-wasm.mjs): the inflater against node:zlib's
// deflate on every block type, and the inlined modules against the built files.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { constants, deflateRawSync } from 'node:zlib';
import { inflate } from '../../js/dist/wasm/inflate.js';

const repo = new URL('../../', import.meta.url);

/** Bytes with long repeats and noise, so that every kind of code and distance occurs. */
function sample(n, seed) {
  const out = new Uint8Array(n);
  let x = seed;
  const random = () => ((x = (x * 1103515245 + 12345) >>> 0) >>> 16);
  for (let i = 0; i < n;) {
    if (i > 300 && random() % 3 === 0) {
      const back = 1 + (random() % Math.min(i, 32768));
      for (let len = 3 + (random() % 300); len > 0 && i < n; len--, i++) out[i] = out[i - back];
    } else {
      out[i++] = random() % 3 === 0 ? random() & 0xff : 97 + (random() % 8);
    }
  }
  return out;
}

test('inflate gives back what node:zlib deflated: stored, fixed and dynamic blocks, empty and large inputs', () => {
  const inputs = [new Uint8Array(0), new Uint8Array([7]), sample(1000, 1), sample(70_000, 2), sample(200_000, 3),
    readFileSync(new URL('pkg/web/tollgate_core.wasm', repo))];
  const options = [{ level: 0 }, { level: 1 }, { level: 9 }, { level: 9, strategy: constants.Z_FIXED }, { level: 6, strategy: constants.Z_HUFFMAN_ONLY }];
  for (const input of inputs) {
    for (const o of options) {
      const out = inflate(deflateRawSync(input, o), input.length);
      assert.ok(Buffer.from(out).equals(Buffer.from(input)), `${input.length} bytes, ${JSON.stringify(o)}`);
    }
  }
});

test('inflate refuses data that does not give the stated size, and truncated data, without running on', () => {
  const input = sample(5000, 4);
  assert.throws(() => inflate(deflateRawSync(input), input.length + 1), /inlined wasm is corrupt/);
  assert.throws(() => inflate(deflateRawSync(input), input.length - 1), /inlined wasm is corrupt/);
  const deflated = deflateRawSync(input, { level: 9 });
  assert.throws(() => inflate(deflated.subarray(0, deflated.length >> 1), input.length), /inlined wasm is corrupt/);
  assert.throws(() => inflate(new Uint8Array(100), input.length), /inlined wasm is corrupt/);
  assert.throws(() => inflate(new Uint8Array([0xff, 0xff]), 10), /inlined wasm is corrupt/);
});

test('the inlined modules (ESM and CommonJS) are the built .wasm files, byte for byte', async () => {
  for (const name of ['tollgate_core', 'tollgate_feedback']) {
    const file = readFileSync(new URL(`pkg/web/${name}.wasm`, repo));
    const esm = (await import(new URL(`js/dist/wasm/${name}.js`, repo))).default();
    assert.ok(Buffer.from(esm).equals(file), `js/dist/wasm/${name}.js`);
  }
  const cjs = createRequire(import.meta.url)('../../js/cjs/wasm/tollgate_feedback.js').default();
  assert.ok(Buffer.from(cjs).equals(readFileSync(new URL('pkg/web/tollgate_feedback.wasm', repo))), 'js/cjs/wasm/tollgate_feedback.js');
});
