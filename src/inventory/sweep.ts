import type { Db } from '../db/client.js';

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
