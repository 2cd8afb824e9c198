// F-P, the database floor: raw node-postgres issuing the statements and transaction boundaries that one order's
// checkout issued through Prisma at 6b4fb6e, from POST /v1/orders until its workflow parks at FULFILLING (read from
// src/api/idempotency.ts, src/orders/commands.ts and src/activities/*.ts then). Kept as it was, a fixed reference
// like F-T-naive: the service has since folded statements and transactions it measures against (bench/README.md).
// Same tables, indexes and outbox trigger; outbox rows are written as already published so the relay leaves them
// alone. No Temporal, no Express.
import { createHash, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type pg from 'pg';

type Query = (text: string, values?: unknown[]) => Promise<pg.QueryResult>;

export interface FloorProduct {
  id: string;
  warehouseId: string;
}

/** One statement per round trip, as the service sends them. */
async function transaction<T>(pool: pg.Pool, work: (query: Query) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  const query: Query = (text, values) => client.query(text, values);
  try {
    await query('BEGIN');
    const result = await work(query);
    await query('COMMIT');
    return result;
  } catch (error) {
    await query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

function envelope(type: string, subject: string, orderId: string, key: string, data: object) {
  return {
    specversion: '1.0',
    id: randomUUID(),
    source: '/flowmart/orders-service',
    type,
    subject,
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    dataschema: `urn:flowmart:bench:${type}:0.0.1`,
    correlationid: orderId,
    causationid: orderId,
    idempotencykey: key,
    data,
  };
}

/** Outbox rows as the writer builds them (one multi-row INSERT per append), already marked published. */
async function appendOutbox(
  query: Query,
  eventsEnv: string,
  context: string,
  events: { type: string; subject: string; orderId: string; key: string; data: object }[]
) {
  const values: unknown[] = [];
  const rows = events.map((event, index) => {
    const env = envelope(event.type, event.subject, event.orderId, event.key, event.data);
    values.push(env.id, event.subject, `${context}.${eventsEnv}.events`, event.type, JSON.stringify(env));
    const base = index * 5;
    return `($${base + 1}::uuid, $${base + 2}, $${base + 3}, $${base + 4}, $${base + 5}::jsonb, '{}'::jsonb, now())`;
  });
  await query(
    `INSERT INTO outbox (id, aggregate_id, subject, type, envelope, headers, published_at) VALUES ${rows.join(', ')}
     ON CONFLICT (id) DO NOTHING`,
    values
  );
}

const claim = (query: Query, orderId: string, seq: number) =>
  query('UPDATE orders SET step_seq = $2, updated_at = now() WHERE id = $1::uuid AND step_seq < $2', [orderId, seq]);

async function loadSnapshot(query: Query, orderId: string) {
  const order = await query('SELECT * FROM orders WHERE id = $1::uuid LIMIT 1', [orderId]);
  const items = await query('SELECT * FROM order_items WHERE order_id = $1::uuid', [orderId]);
  return { order: order.rows[0] as Record<string, unknown>, items: items.rows };
}

async function recordStage(pool: pg.Pool, orderId: string, seq: number, to: string, status: string) {
  await transaction(pool, async (query) => {
    if ((await claim(query, orderId, seq)).rowCount !== 1) return;
    await query('SELECT * FROM orders WHERE id = $1::uuid LIMIT 1', [orderId]);
    const previous = await query('SELECT stage FROM orders WHERE id = $1::uuid LIMIT 1', [orderId]);
    await query('UPDATE orders SET stage = $2, status = $3, updated_at = now() WHERE id = $1::uuid', [
      orderId,
      to,
      status,
    ]);
    await query(
      `INSERT INTO order_status_history (order_id, seq, from_stage, to_stage, status, reason, revision)
       VALUES ($1::uuid, $2, $3, $4, $5, NULL, 1)`,
      [orderId, seq, (previous.rows[0] as { stage: string }).stage, to, status]
    );
  });
}

/** One order, POST to FULFILLING, as the service's statements would run it. */
export async function floorOrder(
  pool: pg.Pool,
  eventsEnv: string,
  products: FloorProduct[],
  lines: number,
  index: number
): Promise<void> {
  const orderId = randomUUID();
  const customerId = randomUUID();
  const picked = Array.from({ length: lines }, (_, line) => products[(index * lines + line) % products.length]!);
  const address = { street: '1 Main St', city: 'Springfield', postalCode: '12345', country: 'US' };
  const q: Query = (text, values) => pool.query(text, values);

  // API: claim the Idempotency-Key, price the lines from the catalog.
  const principal = 'operator:local';
  const key = `bench-fp-${orderId}`;
  await q(
    `INSERT INTO idempotency_keys (principal, key, method, path, body_hash, state, expires_at)
     VALUES ($1, $2, 'POST', '/v1/orders', $3, 'IN_FLIGHT', now() + interval '1 day') ON CONFLICT DO NOTHING`,
    [principal, key, createHash('sha256').update(key).digest('hex')]
  );
  const catalog = await q('SELECT id::text AS id, sku, name, unit_price, currency FROM products WHERE id = ANY($1)', [
    picked.map((product) => product.id),
  ]);
  // unit_price is BIGINT: pg returns it as a string, exact; prices are far below Number.MAX_SAFE_INTEGER.
  const priced = (catalog.rows as { id: string; sku: string; name: string; unit_price: string }[]).map((row) => ({
    ...row,
    unit_price: Number(row.unit_price),
  }));
  const total = priced.reduce((sum, line) => sum + line.unit_price, 0);

  // createOrder
  await transaction(pool, async (query) => {
    const inserted = await query(
      `INSERT INTO orders (id, customer_id, status, stage, currency, total_amount, shipping_address, payment_method, step_seq)
       VALUES ($1::uuid, $2::uuid, 'pending', 'PENDING', 'USD', $3, $4::jsonb, 'card', 1) ON CONFLICT DO NOTHING`,
      [orderId, customerId, total, JSON.stringify(address)]
    );
    if (inserted.rowCount === 0) return;
    const values: unknown[] = [];
    const rows = priced.map((line, i) => {
      values.push(orderId, line.id, line.sku, line.name, 1, line.unit_price);
      const b = i * 6;
      return `($${b + 1}::uuid, $${b + 2}::uuid, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6})`;
    });
    await query(
      `INSERT INTO order_items (order_id, product_id, sku, product_name, quantity, unit_price) VALUES ${rows.join(', ')}`,
      values
    );
    await query(
      `INSERT INTO order_status_history (order_id, seq, to_stage, status, revision) VALUES ($1::uuid, 1, 'PENDING', 'pending', 1)`,
      [orderId]
    );
    const snapshot = await loadSnapshot(query, orderId);
    await appendOutbox(query, eventsEnv, 'orders', [
      { type: 'OrderCreated', subject: orderId, orderId, key: `${orderId}:created`, data: snapshot },
    ]);
  });

  // API: read the order back (with its relations) and store the answer under the Idempotency-Key.
  await q(
    `SELECT o.*, (SELECT json_agg(i) FROM order_items i WHERE i.order_id = o.id) AS items,
            (SELECT json_agg(p) FROM payments p WHERE p.order_id = o.id) AS payments,
            (SELECT json_agg(r) FROM reservations r WHERE r.order_id = o.id) AS reservations,
            (SELECT row_to_json(s) FROM shipments s WHERE s.order_id = o.id) AS shipment
     FROM orders o WHERE o.id = $1::uuid`,
    [orderId]
  );
  await q(
    `UPDATE idempotency_keys SET state = 'DONE', response_status = 201, response_headers = '{}'::jsonb,
       response_body = $3::jsonb WHERE principal = $1 AND key = $2`,
    [principal, key, JSON.stringify({ orderId, stage: 'PENDING' })]
  );

  // holdStock (seq 2)
  await transaction(pool, async (query) => {
    if ((await claim(query, orderId, 2)).rowCount !== 1) return;
    await query(`SELECT * FROM reservations WHERE order_id = $1::uuid AND status = 'HELD'`, [orderId]);
    const events = [];
    for (const product of [...picked].sort((a, b) => a.id.localeCompare(b.id))) {
      await query(
        `SELECT warehouse_id, on_hand - reserved AS available FROM inventory_items
         WHERE product_id = $1::uuid ORDER BY on_hand - reserved DESC, warehouse_id LIMIT 1`,
        [product.id]
      );
      const shift = (delta: number) =>
        query(
          `WITH changed AS (
             UPDATE inventory_items SET reserved = reserved + $3, updated_at = now()
             WHERE product_id = $1::uuid AND warehouse_id = $2 AND on_hand - reserved >= $3
             RETURNING product_id, warehouse_id, on_hand, reserved)
           SELECT c.*, p.sku, p.name FROM changed c JOIN products p ON p.id = c.product_id`,
          [product.id, product.warehouseId, delta]
        );
      await shift(0);
      const after = await shift(1);
      await query(
        `INSERT INTO reservations (id, order_id, product_id, warehouse_id, quantity, status, expires_at)
         VALUES ($1::uuid, $2::uuid, $3::uuid, $4, 1, 'HELD', now() + interval '15 minutes')
         ON CONFLICT (order_id, product_id, warehouse_id) DO UPDATE SET quantity = EXCLUDED.quantity`,
        [randomUUID(), orderId, product.id, product.warehouseId]
      );
      events.push({
        type: 'InventoryAdjusted',
        subject: product.id,
        orderId,
        key: `${orderId}:2:${product.id}:adjusted`,
        data: after.rows[0] as object,
      });
    }
    await appendOutbox(query, eventsEnv, 'inventory', events);
    await query(`SELECT * FROM reservations WHERE order_id = $1::uuid AND status = 'HELD'`, [orderId]);
  });
  await recordStage(pool, orderId, 3, 'INVENTORY_RESERVED', 'processing');

  // authorizePayment (seq 4): the simulated gateway's ledger, then the payment and its two events.
  const paymentKey = `${orderId}:authorize:1`;
  await q('SELECT * FROM gateway_ledger WHERE idempotency_key = $1 LIMIT 1', [paymentKey]);
  await q(
    `INSERT INTO gateway_ledger (idempotency_key, operation, request_hash, response) VALUES ($1, 'authorize', $2, $3::jsonb)
     ON CONFLICT DO NOTHING`,
    [
      paymentKey,
      createHash('sha256').update(paymentKey).digest('hex'),
      JSON.stringify({ ok: true, reference: `auth_${randomUUID()}` }),
    ]
  );
  await q('SELECT * FROM gateway_ledger WHERE idempotency_key = $1 LIMIT 1', [paymentKey]);
  await transaction(pool, async (query) => {
    if ((await claim(query, orderId, 4)).rowCount !== 1) return;
    await query(
      `INSERT INTO payments (id, order_id, kind, status, amount, currency, method, idempotency_key, provider_ref, expires_at)
       VALUES ($1::uuid, $2::uuid, 'AUTHORIZATION', 'SUCCEEDED', $3, 'USD', 'card', $4, $5, now() + interval '7 days')
       ON CONFLICT DO NOTHING`,
      [randomUUID(), orderId, total, paymentKey, `auth_${randomUUID()}`]
    );
    await appendOutbox(query, eventsEnv, 'payments', [
      { type: 'PaymentInitiated', subject: orderId, orderId, key: `${paymentKey}:initiated`, data: { total } },
      { type: 'PaymentProcessed', subject: orderId, orderId, key: `${paymentKey}:processed`, data: { total } },
    ]);
  });
  await q('SELECT * FROM payments WHERE idempotency_key = $1 LIMIT 1', [paymentKey]);
  await recordStage(pool, orderId, 5, 'PAYMENT_AUTHORIZED', 'processing');

  // notifyCustomer: per channel a lookup and a transaction (upsert + NotificationSent).
  for (const channel of ['email', 'sms', 'push']) {
    const notificationKey = `${orderId}:order-confirmed:r1:${channel}`;
    await q('SELECT * FROM notifications WHERE idempotency_key = $1 LIMIT 1', [notificationKey]);
    await transaction(pool, async (query) => {
      await query(
        `INSERT INTO notifications (id, order_id, user_id, channel, template, title, message, status, idempotency_key)
         VALUES ($1::uuid, $2::uuid, $3::uuid, $4, 'order-confirmed', 'Your order is confirmed', $5, 'sent', $6)
         ON CONFLICT (idempotency_key) DO UPDATE SET status = EXCLUDED.status, failure_reason = EXCLUDED.failure_reason`,
        [randomUUID(), orderId, customerId, channel, `Order ${orderId}: your order is confirmed.`, notificationKey]
      );
      await appendOutbox(query, eventsEnv, 'notifications', [
        { type: 'NotificationSent', subject: orderId, orderId, key: `${notificationKey}:sent`, data: { channel } },
      ]);
    });
  }

  // confirmOrder (seq 6)
  await transaction(pool, async (query) => {
    if ((await claim(query, orderId, 6)).rowCount !== 1) return;
    await query('SELECT * FROM orders WHERE id = $1::uuid LIMIT 1', [orderId]);
    await query(
      `SELECT i.product_id FROM order_items i
       LEFT JOIN reservations r ON r.order_id = i.order_id AND r.product_id = i.product_id AND r.status = 'HELD'
       WHERE i.order_id = $1::uuid GROUP BY i.product_id, i.quantity HAVING coalesce(sum(r.quantity), 0) < i.quantity`,
      [orderId]
    );
    await query('SELECT stage FROM orders WHERE id = $1::uuid LIMIT 1', [orderId]);
    await query(
      `UPDATE orders SET stage = 'CONFIRMED', status = 'processing', updated_at = now() WHERE id = $1::uuid`,
      [orderId]
    );
    await query(
      `INSERT INTO order_status_history (order_id, seq, from_stage, to_stage, status, revision)
       VALUES ($1::uuid, 6, 'PAYMENT_AUTHORIZED', 'CONFIRMED', 'processing', 1)`,
      [orderId]
    );
    await query(`UPDATE reservations SET expires_at = NULL WHERE order_id = $1::uuid AND status = 'HELD'`, [orderId]);
    const snapshot = await loadSnapshot(query, orderId);
    await appendOutbox(query, eventsEnv, 'orders', [
      { type: 'OrderConfirmed', subject: orderId, orderId, key: `${orderId}:confirmed`, data: snapshot },
    ]);
  });

  // requestShipment (seq 7), then the FULFILLING stage (seq 8): where the workflow parks until dispatch.
  await transaction(pool, async (query) => {
    if ((await claim(query, orderId, 7)).rowCount !== 1) return;
    const snapshot = await loadSnapshot(query, orderId);
    const shipmentId = randomUUID();
    await query(
      `INSERT INTO shipments (id, order_id, status, method, address) VALUES ($1::uuid, $2::uuid, 'REQUESTED', 'standard', $3::jsonb)
       ON CONFLICT DO NOTHING`,
      [shipmentId, orderId, JSON.stringify(address)]
    );
    await appendOutbox(query, eventsEnv, 'shipping', [
      { type: 'CreateShipment', subject: orderId, orderId, key: `${orderId}:CreateShipment`, data: snapshot },
    ]);
  });
  await recordStage(pool, orderId, 8, 'FULFILLING', 'processing');
}

export async function runPgFloor(
  pool: pg.Pool,
  options: { eventsEnv: string; products: FloorProduct[]; lines: number; orders: number; concurrency: number }
) {
  const latencyMs: number[] = [];
  const errorSamples: string[] = [];
  let errors = 0;
  let next = 0;
  const started = performance.now();
  const loops = Array.from({ length: Math.min(options.concurrency, options.orders) }, async () => {
    for (;;) {
      const index = next++;
      if (index >= options.orders) return;
      const t0 = performance.now();
      try {
        await floorOrder(pool, options.eventsEnv, options.products, options.lines, index);
        latencyMs.push(performance.now() - t0);
      } catch (error) {
        errors += 1;
        if (errorSamples.length < 5) errorSamples.push(error instanceof Error ? error.message : String(error));
      }
    }
  });
  await Promise.all(loops);
  return { wallMs: performance.now() - started, ok: latencyMs.length, errors, errorSamples, latencyMs };
}
