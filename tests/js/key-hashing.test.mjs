// Scope keys are hashed with HMAC-SHA-256 under a per-wrapper secret. The
// hash itself is checked against RFC 4231's known answers and node:crypto.
import assert from 'node:assert/strict';
import { createHmac, createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { rateLimitedFetch } from 'tollgate';
import { hmacSha256, sha256 } from '../../js/dist/hmac.js';

const hex = (bytes) => Buffer.from(bytes).toString('hex');
const bytes = (h) => new Uint8Array(Buffer.from(h, 'hex'));
const text = (s) => new TextEncoder().encode(s);

// RFC 4231, section 4: test cases 1, 2, 3, 4, 6 and 7 (5 is truncated output).
const RFC4231 = [
  [bytes('0b'.repeat(20)), text('Hi There'), 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7'],
  [text('Jefe'), text('what do ya want for nothing?'), '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843'],
  [bytes('aa'.repeat(20)), bytes('dd'.repeat(50)), '773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe'],
  [bytes('0102030405060708090a0b0c0d0e0f10111213141516171819'), bytes('cd'.repeat(50)), '82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b'],
  [bytes('aa'.repeat(131)), text('Test Using Larger Than Block-Size Key - Hash Key First'), '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54'],
  [bytes('aa'.repeat(131)), text('This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.'), '9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2'],
];

test('HMAC-SHA-256 gives RFC 4231\'s known answers', () => {
  for (const [key, data, want] of RFC4231) assert.equal(hex(hmacSha256(key)(data)), want);
  assert.equal(hex(sha256(text('abc'))), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.equal(hex(sha256(new Uint8Array(0))), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
});

test('SHA-256 and HMAC-SHA-256 agree with node:crypto at every length around the block edges', () => {
  const key = randomBytes(32);
  const mac = hmacSha256(new Uint8Array(key));
  for (let n = 0; n <= 200; n++) {
    const data = randomBytes(n);
    assert.equal(hex(sha256(new Uint8Array(data))), createHash('sha256').update(data).digest('hex'), `sha256 of ${n} bytes`);
    assert.equal(hex(mac(new Uint8Array(data))), createHmac('sha256', key).update(data).digest('hex'), `hmac of ${n} bytes`);
  }
});

const routes = [{ url: '/api/*', windows: [{ limit: 5, per: '1m' }], key: (r) => r.headers.get('x-forwarded-for') }];
const labelOf = (limited, ip) => limited.scopeFor('http://127.0.0.1/api/x', { headers: { 'x-forwarded-for': ip } }).key;

test('the same key gets a different label in two wrappers, and the same label under the same keySecret', () => {
  const a = rateLimitedFetch(fetch, { routes });
  const b = rateLimitedFetch(fetch, { routes });
  assert.match(labelOf(a, '10.0.0.1'), /^[0-9a-f]{32}$/);
  assert.equal(labelOf(a, '10.0.0.1'), labelOf(a, '10.0.0.1'), 'stable within a wrapper');
  assert.notEqual(labelOf(a, '10.0.0.1'), labelOf(b, '10.0.0.1'), 'random secrets differ');
  assert.notEqual(labelOf(a, '10.0.0.1'), labelOf(a, '10.0.0.2'));
  const secret = 'a shared secret of 32 characters';
  const c = rateLimitedFetch(fetch, { routes, keySecret: secret });
  const d = rateLimitedFetch(fetch, { routes, keySecret: new TextEncoder().encode(secret) });
  assert.equal(labelOf(c, '10.0.0.1'), labelOf(d, '10.0.0.1'));
  assert.equal(labelOf(c, '10.0.0.1'), createHmac('sha256', secret).update('10.0.0.1').digest('hex').slice(0, 32));
});

test('a short key cannot be found by hashing every candidate without the secret', () => {
  const limited = rateLimitedFetch(fetch, { routes });
  const label = labelOf(limited, '192.168.1.77');
  // What an attacker with the label but not the secret can compute: plain hashes of guesses.
  for (let i = 0; i < 256; i++) {
    const guess = `192.168.1.${i}`;
    assert.notEqual(createHash('sha256').update(guess).digest('hex').slice(0, 32), label);
    assert.notEqual(createHmac('sha256', '').update(guess).digest('hex').slice(0, 32), label);
  }
  const snapshot = JSON.stringify(limited.scopes().map((s) => ({ key: s.key, snapshot: s.limiter.snapshot() })));
  assert.ok(!snapshot.includes('192.168'));
});

test('`keySecret` must be a string or bytes of at least 16 bytes', () => {
  for (const bad of ['short', new Uint8Array(8), 42, {}, null]) {
    assert.throws(() => rateLimitedFetch(fetch, { routes, keySecret: bad }), { name: 'TypeError', message: /`keySecret` must be a string or a Uint8Array of at least 16 bytes/ });
  }
});

test('hexClient passes keySecret on: the token\'s scope label is the HMAC under it', async () => {
  const { hexClient } = await import('tollgate');
  const secret = 'another secret, 32 characters ok';
  const hex = hexClient({ baseUrl: 'http://127.0.0.1:9', token: 'tok-123', keySecret: secret });
  const scope = hex.fetch.scopeFor('http://127.0.0.1:9/api/v1/run/p1', { method: 'POST', headers: { authorization: 'Bearer tok-123' } });
  assert.equal(scope.key, createHmac('sha256', secret).update('Bearer tok-123').digest('hex').slice(0, 32));
  assert.throws(() => hexClient({ baseUrl: 'http://127.0.0.1:9', token: 't', keySecret: 'short' }), /`keySecret`/);
});

test('every preset passes keySecret on, and refuses a bad one when called', async () => {
  const { presets } = await import('tollgate');
  const secret = 'a preset secret of 32 characters';
  const label = (key) => createHmac('sha256', secret).update(key).digest('hex').slice(0, 32);
  const auth = { authorization: 'Bearer tok-9' };
  const hex = rateLimitedFetch(fetch, presets.hex({ keySecret: secret }));
  assert.equal(hex.scopeFor('http://127.0.0.1/api/v1/run/p1', { method: 'POST', headers: auth }).key, label('Bearer tok-9'));
  const sch = rateLimitedFetch(fetch, presets.secureCodingHub({ keySecret: new TextEncoder().encode(secret) }));
  assert.equal(sch.scopeFor('http://127.0.0.1/v1/users/1', { headers: auth }).key, label('Bearer tok-9'));
  // Hexagraph's route has no key (one quota per IP, the caller's own): the option still reaches the wrapper's options.
  assert.equal(presets.hexagraph({ keySecret: secret }).keySecret, secret);
  assert.equal('keySecret' in presets.hex(), false, 'no secret given: the wrapper draws a random one');
  for (const make of [presets.hex, presets.hexagraph, presets.secureCodingHub]) {
    for (const bad of ['short', new Uint8Array(8), 42]) {
      assert.throws(() => make({ keySecret: bad }), { name: 'TypeError', message: /`keySecret` must be a string or a Uint8Array of at least 16 bytes/ });
    }
  }
});
