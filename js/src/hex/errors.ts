/**
 * The Hex client's errors. They extend the package's `TollgateError`, so its
 * brand makes the guards work across realms and duplicate copies too.
 */
import { type CallContext, TollgateError, isTollgateError } from '../errors.js';
import type { HexRun, RunStatus } from './types.js';

/** What Hex said in an error body (`{ reason, traceId }`). */
export interface HexErrorContext extends CallContext {
  status: number;
  reason?: string;
  traceId?: string;
}

/** What both of Hex's HTTP errors keep: the status and Hex's error body. */
abstract class HexResponseError extends TollgateError {
  readonly status: number;
  /** Hex's `reason`, if it gave one. */
  readonly reason: string | undefined;
  readonly traceId: string | undefined;
  constructor(message: string, context: HexErrorContext) {
    super(message, context);
    this.status = context.status;
    this.reason = context.reason;
    this.traceId = context.traceId;
  }
}

/**
 * Hex answered 401: the token was rejected or rotated. Never retried: the same
 * token will not start working by itself. The message never contains the token.
 */
export class HexAuthError extends HexResponseError {
  override name = 'HexAuthError' as const;
}

/** Hex answered with a status the client cannot act on (a 404 for an unknown run, a 500). */
export class HexApiError extends HexResponseError {
  override name = 'HexApiError' as const;
}

/** `waitForRun`'s timeout passed: the run was cancelled (if Hex let us) and this is the rejection. */
export class RunTimeoutError extends TollgateError {
  override name = 'RunTimeoutError' as const;
  readonly runId: string;
  /** The status last polled before the timeout, e.g. 'RUNNING'; undefined if no poll succeeded. */
  readonly lastStatus: RunStatus | undefined;
  /** The run as the cancel answered (status 'KILLED'), or as last polled when the cancel failed. */
  readonly run: HexRun | undefined;
  /** Whether the cancel went through; when false, `cause` is why. */
  readonly cancelled: boolean;
  readonly timeoutMs: number;
  constructor(message: string, context: { runId: string; lastStatus?: RunStatus; run?: HexRun; cancelled: boolean; timeoutMs: number; cause?: unknown }) {
    super(message, context.cause === undefined ? {} : { cause: context.cause });
    this.runId = context.runId;
    this.lastStatus = context.lastStatus;
    this.run = context.run;
    this.cancelled = context.cancelled;
    this.timeoutMs = context.timeoutMs;
  }
}

/** `runBatch` with `refuseIfLate`: the plan says the batch cannot finish before its deadline. Nothing was sent. */
export class BatchDeadlineError extends TollgateError {
  override name = 'BatchDeadlineError' as const;
  /** ms since the epoch. */
  readonly deadline: number;
  /** When the plan says the batch would finish, ms since the epoch. */
  readonly etaAt: number;
  readonly total: number;
  constructor(message: string, context: { deadline: number; etaAt: number; total: number }) {
    super(message);
    this.deadline = context.deadline;
    this.etaAt = context.etaAt;
    this.total = context.total;
  }
}

export const isHexAuthError = (e: unknown): e is HexAuthError => isTollgateError(e) && e.name === 'HexAuthError';
export const isHexApiError = (e: unknown): e is HexApiError => isTollgateError(e) && e.name === 'HexApiError';
export const isRunTimeoutError = (e: unknown): e is RunTimeoutError => isTollgateError(e) && e.name === 'RunTimeoutError';
export const isBatchDeadlineError = (e: unknown): e is BatchDeadlineError => isTollgateError(e) && e.name === 'BatchDeadlineError';
