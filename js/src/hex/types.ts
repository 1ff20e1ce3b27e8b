/**
 * What the Hex Run API sends back, as far as the client reads it. Fields the
 * client does not use are kept (index signatures), so nothing Hex adds is lost.
 */

/** A run's state. PENDING and RUNNING are the only ones that still change. */
export type RunStatus = 'PENDING' | 'RUNNING' | 'COMPLETED' | 'ERRORED' | 'KILLED' | 'UNABLE_TO_ALLOCATE_KERNEL';

/** GET /api/v1/run/:runId/status and POST /api/v1/run/:runId/cancel. */
export interface HexRun {
  projectId: string;
  runId: string;
  status: RunStatus;
  runUrl?: string;
  runStatusUrl?: string;
  /** ISO 8601, on Hex's clock. */
  startTime?: string | null;
  endTime?: string | null;
  /** Milliseconds. */
  elapsedTime?: number;
  traceId?: string;
  [field: string]: unknown;
}

/** What `runProject` resolves with. */
export interface TriggeredRun {
  projectId: string;
  runId: string;
  runUrl?: string;
  runStatusUrl?: string;
  traceId?: string;
  /** The run's status when it was looked up (only for `alreadyRunning`). */
  status?: RunStatus;
  /**
   * Hex answered 409: the project already had a run in progress, and this is
   * that run. Nothing new was triggered (the trigger still counted against the quota).
   */
  alreadyRunning: boolean;
  [field: string]: unknown;
}

/** One entry of GET /api/v1/projects. */
export interface HexProject {
  id: string;
  title?: string;
  /** The project's latest run, where the API reports it. */
  lastRun?: { runId: string; status: RunStatus } | null;
  [field: string]: unknown;
}

const FINAL: ReadonlySet<string> = new Set(['COMPLETED', 'ERRORED', 'KILLED', 'UNABLE_TO_ALLOCATE_KERNEL']);

/** The run will not change any more. */
export const isFinalStatus = (status: unknown): boolean => typeof status === 'string' && FINAL.has(status);
