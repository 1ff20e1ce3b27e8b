// A fake Hex Run API enforcing the quotas in shared/seeds/hex-rate-limits.md:
// RunProject (POST /api/v1/run/:projectId) 20 per minute AND 60 per hour per API token;
// GetRunStatus, CancelRun and ListProjects unthrottled. Both windows are strict sliding
// logs judged at request ARRIVAL (clock.now() when the request event fires), so no
// 60_000 ms span ever holds 21 accepted triggers and no 3_600_000 ms span ever holds 61.
//
// Assumptions (the seed does not say):
// - Error bodies are {reason, traceId}, the shape Hex's public API uses for errors.
// - No Retry-After header on 429: the seed never mentions one (its client backs off 30 s x 2^n).
// - Every trigger that passes the quota counts, including one answered 409 because the
//   project already has a RUNNING run: the server had to accept the trigger to find that out,
//   and clients must not be able to probe for free. Refused (429) triggers are not counted.
// - Idempotency-Key (per token): a replay returns the stored original response and is not
//   counted. Only counted responses (201/409) are stored; a 429 is not, so a client retrying
//   with the same key after backing off gets a real second attempt.
import { systemClock } from './clock.mjs';
import { serve } from './http.mjs';
import { Quota, slidingLog } from './quota.mjs';

const MINUTE = 60_000;
const HOUR = 3_600_000;

export async function startHexServer({
  clock = systemClock,
  port = 0,
  host = '127.0.0.1',
  perMinute = 20,
  perHour = 60,
  runDurationMs = 30_000, // number, or (projectId) => number; measured on the injected clock
  runOutcome = () => 'COMPLETED', // (projectId, runId) => 'COMPLETED' | 'ERRORED', applied when the run ends
  latencyMs, // optional () => number: real-time delay before responding (does not move arrival time)
} = {}) {
  const quota = new Quota({ minute: () => slidingLog(perMinute, MINUTE), hour: () => slidingLog(perHour, HOUR) });
  const runs = new Map(); // runId -> run
  const projects = new Map(); // projectId -> { projectId, firstSeenAt, lastRunId, runCount }
  const idempotency = new Map(); // token -> Map(idempotencyKey -> { status, body })
  let base = ''; // the server's own URL, known once it listens; used in runUrl/runStatusUrl
  let seq = 0;
  const traceId = () => `trace-${(++seq).toString(36)}`;
  const iso = (ms) => (ms == null ? null : new Date(ms).toISOString());

  // Run state is derived from the clock on every read, so advancing a manual clock past
  // runDurationMs completes runs without timers.
  function statusOf(run, now) {
    if (run.killedAt != null) return 'KILLED';
    if (now >= run.endsAt) return run.outcome;
    return 'RUNNING';
  }
  function runView(run, now) {
    const status = statusOf(run, now);
    const endMs = status === 'RUNNING' ? null : (run.killedAt ?? run.endsAt);
    return {
      projectId: run.projectId,
      runId: run.runId,
      runUrl: `${base}/app/projects/${run.projectId}/runs/${run.runId}`,
      runStatusUrl: `${base}/api/v1/run/${run.runId}/status`,
      status,
      startTime: iso(run.startedAt),
      endTime: iso(endMs),
      elapsedTime: (endMs ?? now) - run.startedAt,
      traceId: run.traceId,
    };
  }

  function trigger(token, projectId, at, idemKey) {
    const stored = idemKey != null ? idempotency.get(token)?.get(idemKey) : undefined;
    if (stored) return { ...stored, duplicate: true };

    if (!projects.has(projectId)) projects.set(projectId, { projectId, firstSeenAt: at, lastRunId: null, runCount: 0 });
    const project = projects.get(projectId);

    const d = quota.take(token, at);
    if (!d.ok) {
      return {
        status: 429,
        window: d.window,
        body: { reason: `Rate limit exceeded: RunProject is limited to ${d.limit} requests per ${d.window} per API token`, traceId: traceId() },
      };
    }

    let result;
    const last = project.lastRunId && runs.get(project.lastRunId);
    if (last && statusOf(last, at) === 'RUNNING') {
      result = {
        status: 409,
        body: { reason: `Project ${projectId} already has a run in progress`, runId: last.runId, traceId: traceId() },
      };
    } else {
      const runId = `run-${String(runs.size + 1).padStart(6, '0')}`;
      const dur = typeof runDurationMs === 'function' ? runDurationMs(projectId) : runDurationMs;
      const run = { runId, projectId, token, startedAt: at, endsAt: at + dur, killedAt: null, traceId: traceId() };
      run.outcome = runOutcome(projectId, runId) === 'ERRORED' ? 'ERRORED' : 'COMPLETED';
      runs.set(runId, run);
      project.lastRunId = runId;
      project.runCount += 1;
      result = { status: 201, body: { ...runView(run, at), projectVersion: 1, notifications: [] } };
    }
    if (idemKey != null) {
      if (!idempotency.has(token)) idempotency.set(token, new Map());
      idempotency.get(token).set(idemKey, { status: result.status, body: result.body });
    }
    return result;
  }

  function route(req, at, path) {
    const auth = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!auth) return { status: 401, body: { reason: 'Missing or invalid API token', traceId: traceId() } };
    const token = auth[1];
    const rawIdem = req.headers['idempotency-key'];
    const idemKey = typeof rawIdem === 'string' && rawIdem !== '' ? rawIdem : null;
    const seg = path.split('/').filter(Boolean).map(decodeURIComponent); // ['api','v1',...]
    if (seg[0] !== 'api' || seg[1] !== 'v1') return { key: token, status: 404, body: { reason: 'Not found', traceId: traceId() } };
    const m = req.method;

    if (m === 'POST' && seg[2] === 'run' && seg.length === 4) {
      return { key: token, idempotencyKey: idemKey, ...trigger(token, seg[3], at, idemKey) };
    }
    if (seg[2] === 'run' && seg.length === 5 && ((m === 'GET' && seg[4] === 'status') || (m === 'POST' && seg[4] === 'cancel'))) {
      const run = runs.get(seg[3]);
      if (!run) return { key: token, status: 404, body: { reason: `Run ${seg[3]} not found`, traceId: traceId() } };
      // Cancelling only affects a run that is still RUNNING; a finished run keeps its status.
      if (seg[4] === 'cancel' && statusOf(run, at) === 'RUNNING') run.killedAt = at;
      return { key: token, status: 200, body: runView(run, at) };
    }
    if (m === 'GET' && seg[2] === 'projects' && seg.length === 3) {
      const values = [...projects.values()].map((p) => ({
        id: p.projectId,
        title: p.projectId,
        firstSeen: iso(p.firstSeenAt),
        runCount: p.runCount,
        lastRun: p.lastRunId ? { runId: p.lastRunId, status: statusOf(runs.get(p.lastRunId), at) } : null,
      }));
      return { key: token, status: 200, body: { values, pagination: { before: null, after: null } } };
    }
    return { key: token, status: 404, body: { reason: 'Not found', traceId: traceId() } };
  }

  const internalError = (err) => ({ reason: String(err?.message ?? err) });
  const handle = await serve({ clock, host, port, latencyMs, route, internalError });
  base = handle.url;
  return { ...handle, quota, runs };
}
