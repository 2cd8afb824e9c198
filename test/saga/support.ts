import { ApplicationFailure } from '@temporalio/common';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker } from '@temporalio/worker';
import { expect } from 'vitest';
import type { Stage } from '../../src/domain/order.js';
import { dataConverter } from '../../src/temporal/payload-codec.js';
import type { OrderView } from '../../src/workflows/messages.js';
import { getOrderQuery, orderWorkflowId } from '../../src/workflows/messages.js';
import type { ActivityMap, TestSystem } from '../support/system.js';
import { eventually, http, orderBody, workflowBundle } from '../support/system.js';

/** Recorded before payloads were encrypted: they replay through the codec's pass-through (the migration path). */
export const HISTORIES_DIR = join(import.meta.dirname, '..', 'histories');
/** Recorded since, encrypted with the test key (TEST_PAYLOAD_KEYS). */
export const ENCRYPTED_HISTORIES_DIR = join(HISTORIES_DIR, 'encrypted');

/** The stages an order delivered without trouble passes through, in order. */
export const DELIVERED_STAGES: Stage[] = [
  'PENDING',
  'INVENTORY_RESERVED',
  'PAYMENT_AUTHORIZED',
  'CONFIRMED',
  'FULFILLING',
  'SHIPPED',
  'COMPLETED',
];

/** Places an order over HTTP as its customer and returns its id; `status` is the answer expected (default 201). */
export async function placeOrder(
  system: TestSystem,
  items: { productId: string; quantity: number }[],
  options: { token?: string; paymentToken?: string; customerId?: string; status?: 201 | 202 } = {}
) {
  const customerId = options.customerId ?? randomUUID();
  const token = await system.tokens.customer(customerId);
  const response = await http(system, 'POST', '/v1/orders', {
    token,
    body: orderBody(customerId, items, options.paymentToken ?? 'tok_visa'),
  });
  expect(response.status, JSON.stringify(response.body)).toBe(options.status ?? 201);
  return { orderId: response.body.orderId as string, customerId, token };
}

export function handle(system: TestSystem, orderId: string): WorkflowHandle {
  return system.resources.temporal.workflow.getHandle(orderWorkflowId(orderId));
}

/** Waits until the workflow's own view of the order reaches `stage`. */
export async function untilStage(
  system: TestSystem,
  orderId: string,
  stage: Stage,
  timeoutMs = 30_000
): Promise<OrderView> {
  return eventually(
    async () => {
      const view = await handle(system, orderId).query(getOrderQuery);
      return view.stage === stage ? view : undefined;
    },
    timeoutMs,
    `order ${orderId} to reach ${stage}`
  );
}

export async function orderRow(system: TestSystem, orderId: string) {
  return system.resources.db.order.findUniqueOrThrow({
    where: { id: orderId },
    include: {
      payments: { orderBy: { createdAt: 'asc' } },
      reservations: true,
      shipments: { orderBy: { warehouseId: 'asc' } },
      history: { orderBy: { seq: 'asc' } },
    },
  });
}

/** Money still held on the card: authorizations neither voided nor captured. */
export async function openAuthorizations(system: TestSystem, orderId: string): Promise<number> {
  const payments = await system.resources.db.payment.findMany({ where: { orderId, status: 'SUCCEEDED' } });
  const settled = new Set(
    payments.filter((p) => p.kind === 'VOID' || p.kind === 'CAPTURE').map((p) => p.authorizationId)
  );
  return payments.filter((p) => p.kind === 'AUTHORIZATION' && !settled.has(p.id)).length;
}

/** The named activity fails with a retryable `type` failure saying `message` until `fix()` is called. */
export function failingUntilFixed(name: keyof ActivityMap, message: string, type: string) {
  let failing = true;
  const wrap = (real: ActivityMap): ActivityMap => {
    const activities = real as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    return {
      ...real,
      [name]: (...args: unknown[]) =>
        failing ? Promise.reject(ApplicationFailure.retryable(message, type)) : activities[name]!(...args),
    };
  };
  return { wrap, fix: () => (failing = false) };
}

/** A latch: the named activity waits until `open()` is called. */
export function gate(name: keyof ActivityMap) {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  let entered!: () => void;
  const reached = new Promise<void>((resolve) => (entered = resolve));
  const wrap = (real: ActivityMap): ActivityMap => {
    const activities = real as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    return {
      ...real,
      [name]: async (...args: unknown[]) => {
        entered();
        await opened;
        return activities[name]!(...args);
      },
    };
  };
  return { wrap, open, reached };
}

/**
 * Replays the order's history (or another workflow's of the order, e.g. a return's) on a fresh replay worker: the code must reproduce every command it recorded. With
 * RECORD_HISTORIES=1 the history is also saved as a fixture that CI replays from then on.
 */
export async function expectReplays(
  system: TestSystem,
  orderId: string,
  fixtureName?: string,
  workflowId = orderWorkflowId(orderId)
): Promise<void> {
  const history = await system.resources.temporal.workflow.getHandle(workflowId).fetchHistory();
  await Worker.runReplayHistory(
    { workflowBundle: await workflowBundle(), dataConverter: dataConverter(system.resources.codec) },
    history,
    workflowId
  );
  // The environment is read here only to let a developer refresh the recorded fixtures.
  if (fixtureName && process.env.RECORD_HISTORIES === '1') {
    mkdirSync(ENCRYPTED_HISTORIES_DIR, { recursive: true });
    writeFileSync(join(ENCRYPTED_HISTORIES_DIR, `${fixtureName}.json`), historyToJSON(history));
  }
}
