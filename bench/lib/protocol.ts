import type { FloorInput } from '../workflows/floor.js';

/** Messages between bench/run.ts (the service under test) and bench/lib/driver.ts (the load generator). */
export interface DriverInit {
  type: 'init';
  temporalAddress: string;
  namespace: string;
  floorTaskQueue: string;
  /** Core NATS subject on which the floor's confirming activity publishes its workflow id. */
  floorConfirmSubject: string;
  databaseUrl: string;
  natsUrl: string;
  eventsEnv: string;
  baseUrl: string;
  pollMs: number;
}

/** The floor workflows (bench/workflows), each with the arguments it starts with. */
export type FloorWorkflowStart =
  { workflowType: 'FloorWorkflow'; args: [FloorInput] } | { workflowType: 'NaiveCheckoutWorkflow'; args: [] };

export interface FloorRun {
  type: 'floor';
  runId: string;
  orders: number;
  concurrency: number;
  workflow: FloorWorkflowStart;
  timeoutMs: number;
}

export interface ServiceRun {
  type: 'service';
  runId: string;
  orders: number;
  concurrency: number;
  productIds: string[];
  lines: number;
  /** Use `Prefer: wait=30` (the API holds the answer until CONFIRMED) instead of polling the order row. */
  prefer: boolean;
  timeoutMs: number;
}

export type DriverRequest = DriverInit | FloorRun | ServiceRun | { type: 'close' };

export interface RunResult {
  runId: string;
  /** First request sent to last completion, ms. */
  wallMs: number;
  ok: number;
  errors: number;
  errorSamples: string[];
  /** Start (POST or workflow start) to confirmation (CONFIRMED row, or the floor's confirming activity), ms. */
  latencyMs: number[];
  /** Start to the answer of the POST, or to the return of `client.workflow.start`, ms. */
  acceptMs: number[];
  /** POST to the OrderConfirmed event arriving on NATS (through outbox and relay), ms. */
  eventMs: number[];
  /**
   * Event lag: the OrderConfirmed event's `time` (stamped inside the transaction that commits the CONFIRMED row,
   * just before its commit) to its arrival on NATS, ms. Same machine, same clock.
   */
  eventLagMs: number[];
  eventsMissing: number;
  /** Order ids (service) or workflow ids (floor) of the successful items, for history sampling. */
  ids: string[];
  /** Queries the driver itself sent to PostgreSQL (to subtract from the database's transaction counters). */
  pollQueries: number;
  statuses: Record<string, number>;
}

export type DriverReply =
  { type: 'ready' } | { type: 'result'; result: RunResult } | { type: 'error'; message: string } | { type: 'closed' };
