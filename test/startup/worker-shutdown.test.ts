import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { priceLines } from '../../src/orders/pricing.js';
import { startOrderWorkflow } from '../../src/orders/workflow-commands.js';
import { ROOT } from '../../scripts/lib/database.js';
import { freePort } from '../../scripts/lib/temporal-server.js';
import type { TestSystem } from '../support/system.js';
import { createProduct, eventually, JWT_SECRET, orderBody, startSystem, TEST_PAYLOAD_KEYS } from '../support/system.js';

describe('worker process - graceful shutdown', () => {
  let system: TestSystem;
  beforeAll(async () => {
    system = await startSystem({ api: false, relay: false });
  });
  afterAll(async () => {
    await system?.stop();
  });

  it('on SIGTERM finishes the activity it is running before it exits, with status 0', async () => {
    const taskQueue = `shutdown-${randomUUID()}`;
    const worker = spawn(join(ROOT, 'node_modules', '.bin', 'tsx'), [join(ROOT, 'src', 'worker', 'main.ts')], {
      env: {
        PATH: process.env.PATH,
        DATABASE_URL: inject('databaseUrl'),
        NATS_URL: inject('natsUrl'),
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        EVENTS_ENV: inject('eventsEnv'),
        TEMPORAL_TASK_QUEUE: taskQueue,
        JWT_SECRET,
        PAYLOAD_ENCRYPTION_KEYS: TEST_PAYLOAD_KEYS,
        // Ports of its own: other test files start workers at the same time.
        METRICS_PORT: String(await freePort()),
        TEMPORAL_METRICS_PORT: String(await freePort()),
        LOG_LEVEL: 'silent',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    worker.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => worker.on('exit', (code) => resolve(code)));
    const { db } = system.resources;
    const product = await createProduct(system, 5);

    // The test holds the product's stock row: the worker's holdStock activity waits for it, i.e. it is running.
    let releaseRow!: () => void;
    const rowHeld = new Promise<void>((resolve) => (releaseRow = resolve));
    let locked!: () => void;
    const lockTaken = new Promise<void>((resolve) => (locked = resolve));
    const holder = db.$transaction(
      async (tx) => {
        await tx.$queryRaw`SELECT 1 FROM inventory_items WHERE product_id = ${product.id}::uuid FOR UPDATE`;
        locked();
        await rowHeld;
      },
      { timeout: 120_000 }
    );
    try {
      await lockTaken;
      const orderId = randomUUID();
      const body = orderBody(randomUUID(), [{ productId: product.id, quantity: 1 }]);
      const { lines } = await priceLines(db, body.items, body.currency);
      await startOrderWorkflow(
        system.resources.temporal,
        { ...system.config, TEMPORAL_TASK_QUEUE: taskQueue },
        { ...body, orderId, lines, payment: body.payment, shippingMethod: 'standard', causationId: 'shutdown-test' }
      );
      await eventually(async () => {
        const [row] = await db.$queryRaw<{ n: number }[]>`
          SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND wait_event_type = 'Lock'`;
        return row!.n >= 1 ? true : undefined;
      }, 60_000);

      worker.kill('SIGTERM');
      // Give a worker that does not wait for its activities every chance to exit before the activity can finish.
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      expect(worker.exitCode, stderr).toBeNull();
      releaseRow();
      await holder;
      expect(await exited, stderr).toBe(0);
      // The activity committed its work before the process went away.
      expect(await db.reservation.count({ where: { orderId, status: 'HELD' } })).toBe(1);
      await system.resources.temporal.workflow.getHandle(`order-${orderId}`).terminate('test done');
    } finally {
      releaseRow();
      await holder.catch(() => undefined);
      if (worker.exitCode === null) worker.kill('SIGKILL');
    }
  }, 180_000);
});
