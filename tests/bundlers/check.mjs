// What every bundle and runtime must have decided in app/scenario.js.
import assert from 'node:assert/strict';

export function checkScenario(result, hits) {
  assert.equal(result.error, undefined, `the scenario threw: ${result.error}`);
  assert.deepEqual(result.admitted, [true, true, false]);
  assert.ok(result.waitMs > 59_000 && result.waitMs <= 60_000, `the third waits for the minute window: ${result.waitMs} ms`);
  assert.equal(result.named, 'InsufficientCapacityError');
  assert.deepEqual(result.statuses, [200, 200, 200]);
  assert.deepEqual(result.bodies, ['pong 1', 'pong 2', 'pong 3']);
  assert.equal(result.nextOk, false, 'the route’s hour window is full after three requests');
  assert.ok(result.nextWaitMs > 3_500_000 && result.nextWaitMs <= 3_600_000, `next in about an hour: ${result.nextWaitMs} ms`);
  assert.equal(hits, 3, 'the server saw the three requests');
}
