// The CommonJS entry: require() works, and shares the wasm instance and the
// classes with the ESM entry.
const assert = require('node:assert/strict');
const { test } = require('node:test');
const tollgate = require('tollgate');

test('require("tollgate") gives a working Limiter', () => {
  const limiter = new tollgate.Limiter({ windows: [{ limit: 1, per: '1m' }] });
  assert.equal(limiter.tryAcquire().ok, true);
  assert.equal(limiter.tryAcquire().ok, false);
  assert.throws(() => limiter.tryAcquire(2), tollgate.InsufficientCapacityError);
});

test('import and require share one set of classes', async () => {
  const esm = await import('tollgate');
  assert.equal(esm.Limiter, tollgate.Limiter);
  assert.equal(esm.QueueFullError, tollgate.QueueFullError);
});
