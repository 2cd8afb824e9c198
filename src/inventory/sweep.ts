import type { Db } from '../db/client.js';
import type { Logger } from 'pino';

/** Releases holds of unconfirmed orders older than the reservation policy allows. Returns how many. */
export async function releaseExpiredReservations(db: Db, now = new Date()): Promise<number> {
  return db.$transaction(async (tx) => {
    const expired = await tx.$queryRaw<{ id: string; product_id: string; warehouse_id: string; quantity: number }[]>`
      SELECT id, product_id, warehouse_id, quantity FROM reservations
      WHERE status = 'HELD' AND expires_at < ${now} ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 500`;
    for (const row of expired) {
      await tx.$executeRaw`
        UPDATE inventory_items SET reserved = reserved - ${row.quantity}, updated_at = now()
        WHERE product_id = ${row.product_id}::uuid AND warehouse_id = ${row.warehouse_id}`;
      await tx.$executeRaw`UPDATE reservations SET status = 'EXPIRED', updated_at = now() WHERE id = ${row.id}::uuid`;
    }
    return expired.length;
  });
}

/**
 * Sweeps every `intervalMs` until stopped. A sweep still running when the next one is due is not doubled; a failed
 * sweep (PostgreSQL briefly unreachable) is logged and tried again at the next tick.
 */
export function startReservationSweeper(db: Db, intervalMs: number, logger: Logger): { stop(): Promise<void> } {
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    running ??= releaseExpiredReservations(db)
      .then(
        (count) => void (count > 0 && logger.info({ count }, 'released expired reservations')),
        (error: unknown) => logger.warn({ err: String(error) }, 'reservation sweep failed')
      )
      .finally(() => (running = undefined));
  }, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
