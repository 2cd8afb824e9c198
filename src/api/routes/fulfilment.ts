import { z } from 'zod';
import type { Db } from '../../db/client.js';
import { canSeeCustomer } from '../../domain/principal.js';
import type { OrderCommands } from '../../orders/commands.js';
import { ApiError } from '../errors.js';
import type { RouteEnv } from '../route.js';
import { resource } from '../route.js';
import { Notification, Problem, ShipmentStatusUpdate, UserNotifications, Uuid } from '../schemas.js';

type NotificationRow = Awaited<ReturnType<Db['notification']['findMany']>>[number];

function toNotification(row: NotificationRow) {
  return {
    notificationId: row.id,
    title: row.title,
    message: row.message,
    status: row.readAt ? ('read' as const) : ('unread' as const),
    channel: row.channel,
    userId: row.userId,
    type: row.template,
    createdAt: row.createdAt.toISOString(),
    metadata: { orderId: row.orderId },
  };
}

/** Shipping updates from carriers and the customer's notification inbox. */
export function fulfilmentRoutes(routes: RouteEnv, commands: OrderCommands, db: Db): void {
  const shipments = resource(routes, { tags: ['shipping'], roles: ['service', 'operator'] });
  const notifications = resource(routes, { tags: ['notifications'], roles: ['customer', 'operator'] });

  shipments.put('/shipments/:shipmentId/status', {
    operationId: 'UpdateShipmentStatus',
    summary: "A carrier's status update: signals the order (dispatch captures payment, delivery completes it)",
    params: z.strictObject({ shipmentId: Uuid }),
    body: ShipmentStatusUpdate,
    idempotent: true,
    responses: {
      200: {
        description: 'Delivered to the order',
        schema: z.object({
          shipmentId: Uuid,
          orderId: Uuid,
          status: z.string(),
          accepted: z
            .boolean()
            .describe('false: the order had finished and the shipment already showed this status, nothing changed'),
        }),
      },
      404: { description: 'Unknown shipment', schema: Problem },
      409: { description: 'The order is finished and the shipment shows another status', schema: Problem },
    },
    async handle({ params, body }, req, res) {
      res.json(await commands.reportShipmentStatus(params.shipmentId, body.status, req.operationId!));
    },
  });

  notifications.get('/users/:userId/notifications', {
    operationId: 'GetUserNotifications',
    summary: "A customer's notifications, newest first",
    params: z.strictObject({ userId: Uuid }),
    query: z.strictObject({ status: z.enum(['unread', 'all']).default('all') }),
    responses: {
      200: { description: 'Notifications', schema: UserNotifications },
      404: { description: "Another customer's notifications", schema: Problem },
    },
    async handle({ params, query }, req, res) {
      if (!canSeeCustomer(req.principal!, params.userId)) throw ApiError.notFound(`user ${params.userId}`);
      const rows = await db.notification.findMany({
        where: { userId: params.userId, ...(query.status === 'unread' ? { readAt: null } : {}) },
        orderBy: [{ createdAt: 'desc' }, { id: 'asc' }],
        take: 100,
      });
      res.json({ userId: params.userId, notifications: rows.map(toNotification) });
    },
  });

  notifications.get('/notifications/:notificationId', {
    operationId: 'GetNotificationDetails',
    summary: 'One notification',
    params: z.strictObject({ notificationId: Uuid }),
    responses: {
      200: { description: 'The notification', schema: Notification },
      404: { description: 'Not found', schema: Problem },
    },
    async handle({ params }, req, res) {
      const row = await db.notification.findUnique({ where: { id: params.notificationId } });
      if (!row || !canSeeCustomer(req.principal!, row.userId))
        throw ApiError.notFound(`notification ${params.notificationId}`);
      res.json(toNotification(row));
    },
  });
}
