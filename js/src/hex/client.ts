/**
 * `hexClient`: the Hex Run API done right, on `rateLimitedFetch` with the Hex
 * preset. Triggers wait for the token's quota (20/min AND 60/h) and carry an
 * idempotency key; status, cancel and list match no route, so they go out at once.
 *
 * ```js
 * const hex = hexClient({ baseUrl: 'https://app.hex.tech', token: process.env.HEX_TOKEN });
 * const run = await hex.runProject(projectId, { region: 'emea' });
 * const done = await hex.waitForRun(run.runId);          // polls; cancels after 30 min
 * const results = await hex.runBatch(projects, { onProgress: console.log });
 * ```
 */
import { type RateLimitedFetch, rateLimitedFetch } from '../fetch.js';
import { Limiter } from '../limiter.js';
import { presets } from '../presets.js';
import { type Api, type HexResponse, callHex, unexpected } from './api.js';
import { type BatchResult, runBatch } from './batch.js';
import {
  type BatchProject, type HexClientOptions, type RunBatchOptions, type RunProjectOptions, type WaitForRunOptions,
  normalizeClientOptions, normalizeId,
} from './options.js';
import type { HexProject, HexRun, TriggeredRun } from './types.js';
import { waitForRun } from './wait-for-run.js';

export interface HexClient {
  /**
   * Triggers a run, waiting for the quota. A 409 (the project already has a
   * run in progress) resolves with that run (`alreadyRunning: true`) instead of
   * triggering again; a 401 rejects with `HexAuthError`.
   */
  runProject(projectId: string, inputParams?: Record<string, unknown>, options?: RunProjectOptions): Promise<TriggeredRun>;
  getRunStatus(runId: string, options?: { signal?: AbortSignal }): Promise<HexRun>;
  /** Cancels a run in progress; a finished run keeps its status. Resolves with the run as Hex then reports it. */
  cancelRun(runId: string, options?: { signal?: AbortSignal }): Promise<HexRun>;
  /** Every project, all pages. */
  listProjects(options?: { signal?: AbortSignal }): Promise<HexProject[]>;
  /** Resolves with the run once its status is final; see `WaitForRunOptions`. */
  waitForRun(runId: string, options?: WaitForRunOptions): Promise<HexRun>;
  /**
   * Runs many projects and resolves with a result per project, in order.
   *
   * The ETA (in `onProgress`, and for `refuseIfLate`) is the trigger limiter's
   * plan for the triggers still to go, run through `concurrency` slots, each run
   * taking the median duration seen so far in this batch (`expectedRunDuration`
   * before any has finished).
   */
  runBatch(projects: readonly BatchProject[], options?: RunBatchOptions): Promise<BatchResult[]>;
  /**
   * When each of the next `n` triggers would go if nothing else used the token,
   * ms since the epoch. Read from the token's limiter in `fetch` once a trigger
   * has been sent; before that, from a fresh `Limiter` with the same windows (its
   * state is the same: nothing counted yet).
   */
  plan(n: number): number[];
  /** The rate-limited fetch underneath: `events` (e.g. 'retry', 'throttled') and `scopes()`. */
  readonly fetch: RateLimitedFetch;
}

const ROUTE = 'hex run';

export function hexClient(options: HexClientOptions): HexClient {
  const o = normalizeClientOptions(options);
  const { clock } = o;
  const base = new URL(o.apiBase);
  // A function, not the preset's path pattern: a base path may hold ':' or '*', and only this origin counts.
  const isTrigger = (u: URL) => u.origin === base.origin && u.pathname.startsWith(base.pathname) &&
    /^\/run\/[^/]+$/.test(u.pathname.slice(base.pathname.length));
  const preset = presets.hex({ perMinute: o.perMinute, perHour: o.perHour, url: isTrigger, store: options.store });
  const limited = rateLimitedFetch(o.fetch, {
    ...preset, clock, keySecret: options.keySecret, ...(o.retry === undefined ? {} : { retry: o.retry }),
  });
  const api: Api = { fetch: limited, apiBase: o.apiBase, token: o.token };
  const windows = preset.routes![0]!.windows!;
  let planning: Limiter | undefined;

  const triggerLimiter = (): Limiter | undefined => {
    const limiter = limited.scopes().find((s) => s.route === ROUTE)?.limiter;
    // With a `store`, the plan is this process's view (`plan` stays synchronous): what a fresh limiter would do.
    return limiter instanceof Limiter ? limiter : undefined;
  };
  const json = (r: HexResponse) => {
    if (!r.response.ok) throw unexpected(r);
    return r.data;
  };

  const client: HexClient = {
    fetch: limited,

    async runProject(projectId, inputParams = {}, { signal, idempotencyKey, body } = {}) {
      const id = normalizeId(projectId, 'projectId');
      const headers = idempotencyKey === undefined ? undefined : { 'idempotency-key': normalizeId(idempotencyKey, 'idempotencyKey') };
      const r = await callHex(api, 'POST', `/run/${encodeURIComponent(id)}`, { body: { ...body, inputParams }, signal, headers });
      if (r.response.status === 409) return existingRun(id, r, signal);
      const data = json(r);
      if (typeof data?.runId !== 'string') throw unexpected(r, 'without a runId');
      return { ...data, projectId: data.projectId ?? id, alreadyRunning: false };
    },

    async getRunStatus(runId, { signal } = {}) {
      return json(await callHex(api, 'GET', `/run/${encodeURIComponent(normalizeId(runId, 'runId'))}/status`, { signal }));
    },

    async cancelRun(runId, { signal } = {}) {
      return json(await callHex(api, 'POST', `/run/${encodeURIComponent(normalizeId(runId, 'runId'))}/cancel`, { signal }));
    },

    async listProjects({ signal } = {}) {
      const all: HexProject[] = [];
      let after: string | null | undefined;
      // Follow Hex's `pagination.after` cursor; the page bound guards against a server repeating one.
      for (let page = 0; page < 10_000; page++) {
        const data = json(await callHex(api, 'GET', `/projects${after ? `?after=${encodeURIComponent(after)}` : ''}`, { signal }));
        all.push(...(Array.isArray(data?.values) ? data.values : []));
        after = data?.pagination?.after;
        if (typeof after !== 'string' || after === '') break;
      }
      return all;
    },

    async waitForRun(runId, waitOptions) {
      return waitForRun({ clock, getRunStatus: client.getRunStatus, cancelRun: client.cancelRun }, normalizeId(runId, 'runId'), waitOptions);
    },

    async runBatch(projects, batchOptions) {
      return runBatch({
        clock,
        runProject: client.runProject,
        waitForRun: client.waitForRun,
        plan: client.plan,
        triggersInFlight: () => limited.scopes().find((s) => s.route === ROUTE)?.limiter.inFlight ?? 0,
      }, projects, batchOptions);
    },

    plan(n) {
      return (triggerLimiter() ?? (planning ??= new Limiter({ windows, clock }))).plan(n);
    },
  };

  /**
   * The run that made Hex answer 409. Hex-like servers name it in the body
   * (`runId`); otherwise the project's `lastRun` in the project list.
   */
  async function existingRun(projectId: string, conflict: HexResponse, signal: AbortSignal | undefined): Promise<TriggeredRun> {
    let runId: unknown = conflict.data?.runId;
    if (typeof runId !== 'string' || runId === '') {
      const project = (await client.listProjects({ signal })).find((p) => p.id === projectId);
      runId = project?.lastRun?.runId;
    }
    if (typeof runId !== 'string' || runId === '') {
      throw unexpected(conflict); // a conflict we cannot resolve: say what Hex said
    }
    const run = await client.getRunStatus(runId, { signal });
    return { ...run, projectId: run.projectId ?? projectId, alreadyRunning: true };
  }

  return client;
}
