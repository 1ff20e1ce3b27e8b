/**
 * Snapshots as JSON-safe objects, and the flat numbers they cross the wasm
 * boundary as (`src/wasm.rs`: `flat_snapshot`). Reading a snapshot runs the
 * caller's getters and proxies, so it happens here, in JS, before any wasm call:
 * whatever they throw becomes a `SnapshotError` whose `cause` is that error.
 * Here only the shape and the types are checked; the ranges and the
 * consistency of the values are checked by the core when it restores.
 */
import { SnapshotError } from './errors.js';
import type { NormalizedWindow, WindowKind } from './options.js';

export const SNAPSHOT_VERSION = 1;
const KINDS: readonly WindowKind[] = ['sliding', 'fixed', 'bucket'];
/**
 * A fixed window's fields in their flat order (`src/wasm.rs`), each with the
 * number that stands for "absent" in the flat form (none: always written).
 */
const FIXED: ReadonlyArray<readonly [string, number?]> = [
  ['startMs'], ['count'], ['carryUnits'], ['carryUntilMs'], ['phaseMs', -1], ['guardMs', 0], ['spill', 0],
];

/** The documented JSON form (see the crate's `snapshot` module). */
export interface SnapshotData {
  version: number;
  clockMs: number;
  pausedUntilMs: number;
  /** Units of requests in flight when it was taken, counted until they can have reached the server. */
  inFlight?: number;
  windows: Array<{ limit: number; perMs: number; offsetMs: number; state: Record<string, Record<string, unknown>> }>;
}

/** The object form of a flat snapshot the core wrote. */
export function fromFlat(f: Float64Array): SnapshotData {
  let i = 5;
  const windows: SnapshotData['windows'] = [];
  for (let w = 0; w < f[4]!; w++) {
    const [kind, limit, perMs, offsetMs] = [f[i]!, f[i + 1]!, f[i + 2]!, f[i + 3]!];
    i += 4;
    let state: Record<string, Record<string, unknown>>;
    if (kind === 0) {
      const log: Array<[number, number]> = [];
      for (let n = f[i++]!; n > 0; n--, i += 2) log.push([f[i]!, f[i + 1]!]);
      state = { sliding: { log } };
    } else if (kind === 1) {
      const fixed: Record<string, unknown> = {};
      for (const [name, absent] of FIXED) {
        const v = f[i++]!;
        // startMs NaN: none (null); the optional fields are left out at their default.
        if (v !== absent) fixed[name] = v !== v ? null : v;
      }
      state = { fixed };
    } else {
      state = { bucket: { tatMs: f[i]!, tatRem: f[i + 1]! } };
      i += 2;
    }
    windows.push({ limit, perMs, offsetMs, state });
  }
  const snapshot: SnapshotData = { version: f[0]!, clockMs: f[1]!, pausedUntilMs: f[2]!, windows };
  if (f[3] !== 0) {
    // In the documented order (inFlight before windows), present only when not 0.
    return { version: snapshot.version, clockMs: snapshot.clockMs, pausedUntilMs: snapshot.pausedUntilMs, inFlight: f[3]!, windows };
  }
  return snapshot;
}

/** A snapshot read into flat numbers, with the windows it describes. */
export interface FlatSnapshot {
  flat: number[];
  windows: NormalizedWindow[];
}

/** Reads `snapshot` (running its getters once each); SnapshotError for a wrong shape or type. */
export function toFlat(snapshot: unknown): FlatSnapshot {
  try {
    return read(snapshot);
  } catch (error) {
    if (error instanceof SnapshotError) throw error;
    throw new SnapshotError(`corrupt snapshot: reading it threw (${String(error)})`, { cause: error });
  }
}

function corrupt(why: string): SnapshotError {
  return new SnapshotError(`corrupt snapshot: ${why}`);
}

function record(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw corrupt(`${what} must be an object`);
  return value as Record<string, unknown>;
}

/** A number the core range-checks; here only its type. */
function num(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw corrupt(`\`${what}\` must be an integer; got ${show(value)}`);
  return value;
}

function show(value: unknown): string {
  return typeof value === 'string' ? `'${value.slice(0, 40)}'` : typeof value === 'bigint' ? `${value}n` : String(value);
}

function read(snapshot: unknown): FlatSnapshot {
  const s = record(snapshot, 'a snapshot');
  const version = s.version;
  if (typeof version !== 'number') throw corrupt(`\`version\` must be a number; got ${show(version)}`);
  if (version !== SNAPSHOT_VERSION) {
    throw new SnapshotError(`snapshot version ${show(version)} is not supported; this build reads version ${SNAPSHOT_VERSION}`);
  }
  const list = s.windows;
  if (!Array.isArray(list)) throw corrupt('`windows` must be an array');
  if (list.length === 0) throw corrupt('`windows` must list at least one window');
  const flat = [version, num(s.clockMs, 'clockMs'), num(s.pausedUntilMs, 'pausedUntilMs'),
    s.inFlight === undefined ? 0 : num(s.inFlight, 'inFlight'), list.length];
  const windows: NormalizedWindow[] = [];
  for (let i = 0; i < list.length; i++) {
    const at = `windows[${i}]`;
    const w = record(list[i], `\`${at}\``);
    const limit = num(w.limit, `${at}.limit`);
    const perMs = num(w.perMs, `${at}.perMs`);
    const offsetMs = num(w.offsetMs, `${at}.offsetMs`);
    const state = record(w.state, `\`${at}.state\``);
    const keys = Object.keys(state);
    const kind = KINDS.indexOf(keys[0] as WindowKind);
    if (keys.length !== 1 || kind < 0) throw corrupt(`\`${at}.state\` must have one key: sliding, fixed or bucket`);
    flat.push(kind, limit, perMs, offsetMs);
    const body = record(state[keys[0]!], `\`${at}.state.${keys[0]}\``);
    if (kind === 0) {
      const log = body.log;
      if (!Array.isArray(log)) throw corrupt(`\`${at}.state.sliding.log\` must be an array of [atMs, cost] pairs`);
      flat.push(log.length);
      for (let e = 0; e < log.length; e++) {
        const pair = log[e];
        if (!Array.isArray(pair) || pair.length !== 2) throw corrupt(`\`${at}.state.sliding.log[${e}]\` must be an [atMs, cost] pair`);
        flat.push(num(pair[0], `${at}.state.sliding.log[${e}][0]`), num(pair[1], `${at}.state.sliding.log[${e}][1]`));
      }
    } else if (kind === 1) {
      const p = `${at}.state.fixed`;
      for (const [name, absent] of FIXED) {
        const v = body[name];
        if (name === 'startMs' && v === null) flat.push(Number.NaN);
        else if (v === undefined && absent !== undefined) flat.push(absent);
        else if (num(v, `${p}.${name}`) < 0 && name === 'phaseMs') throw corrupt(`\`${p}.phaseMs\` must be >= 0`);
        else flat.push(v as number);
      }
    } else {
      const p = `${at}.state.bucket`;
      // tatMs may pass 2^53 by up to a period, so it is any non-negative integer here; the core bounds it.
      const tat = body.tatMs;
      if (typeof tat !== 'number' || !Number.isInteger(tat)) throw corrupt(`\`${p}.tatMs\` must be an integer; got ${show(tat)}`);
      flat.push(tat, num(body.tatRem, `${p}.tatRem`));
    }
    windows.push({ kind: KINDS[kind]!, limit, perMs, offsetMs });
  }
  return { flat, windows };
}
