// What every bundle and runtime does with the package, as a user's code would:
// decide with a Limiter (admit, refuse with the exact wait, name an error) and
// send requests through rateLimitedFetch to a local server until its route's
// window is full. Returns plain JSON for the test to check; `base` is '' in a
// page (same origin) and the server's URL elsewhere.
export async function scenario(t, base = '') {
  const limiter = new t.Limiter({ windows: [{ limit: 2, per: '1m' }, { limit: 3, per: '1h' }] });
  const admitted = [limiter.tryAcquire().ok, limiter.tryAcquire().ok];
  const refused = limiter.tryAcquire();
  let named = '';
  try {
    limiter.tryAcquire(5);
  } catch (error) {
    named = error instanceof t.InsufficientCapacityError ? error.name : `not an InsufficientCapacityError: ${error}`;
  }

  const limited = t.rateLimitedFetch(fetch.bind(globalThis), { routes: [{ url: '/api/*', windows: [{ limit: 3, per: '1h' }] }] });
  const statuses = [];
  const bodies = [];
  for (let i = 0; i < 3; i++) {
    const res = await limited(`${base}/api/ping`);
    statuses.push(res.status);
    bodies.push(await res.text());
  }
  const next = limited.scopes()[0].limiter.tryAcquire();
  return { admitted: [...admitted, refused.ok], waitMs: refused.waitMs, named, statuses, bodies, nextOk: next.ok, nextWaitMs: next.waitMs };
}
