import type { Request, Response } from 'express';
import { z } from 'zod';
import { toDecimal } from '../../domain/money.js';
import { CancellationReason } from '../../domain/order.js';
import type { CommandContext, OrderCommands } from '../../orders/commands.js';
import type { Role } from '../../domain/principal.js';
import type { OrderQueries, OrderRow } from '../../orders/queries.js';
import { ApiError, ErrorCode } from '../errors.js';
import { toOrderDto } from '../order-dto.js';
import type { RouteEnv } from '../route.js';
import { resource } from '../route.js';
import {
  Accepted,
  AmendRequest,
  CancelRequest,
  ListOrdersQuery,
  Order,
  OrderCreate,
  OrderEvents,
  OrderIdParams,
  OrderList,
  OrderUpdate,
  PaymentStatus,
  Problem,
} from '../schemas.js';
import { fromStoredMoney } from '../../domain/money.js';

const MAX_PREFER_WAIT_S = 30;

/** Who asks, under which operation id, and the trace the request belongs to. */
export function context(req: Request): CommandContext {
  return {
    operationId: req.operationId!,
    principal: req.principal!,
    causationId: req.res!.locals.requestId as string,
    ...(req.res!.locals.traceparent ? { traceparent: req.res!.locals.traceparent as string } : {}),
  };
}

/** `Prefer: wait=10` asks to hold the answer until the order is confirmed or has failed (RFC 7240). */
function preferredWaitMs(req: Request): number | undefined {
  const match = /(?:^|[,;\s])wait=(\d+)/.exec(req.get('prefer') ?? '');
  return match ? Math.min(Number(match[1]), MAX_PREFER_WAIT_S) * 1_000 : undefined;
}

/** The order after a change, or 202 + Location while the change (or the order itself) is still being persisted. */
function sendOrder(res: Response, orderId: string, row: OrderRow | undefined) {
  const location = `/v1/orders/${orderId}`;
  if (row) res.json(toOrderDto(row));
  else res.status(202).location(location).json({ orderId, status: 'accepted', location });
}

export function orderRoutes(routes: RouteEnv, commands: OrderCommands, queries: OrderQueries): void {
  const orders = resource(routes, { tags: ['orders'], roles: ['customer', 'operator'] });
  const order = resource(routes, {
    tags: ['orders'],
    roles: ['customer', 'operator'],
    params: OrderIdParams,
    responses: {
      404: {
        description: 'No such order (or not yours); an order whose workflow runs but is not persisted yet is found',
        schema: Problem,
      },
    },
  });
  const readers: { roles: Role[] } = { roles: ['customer', 'operator', 'service'] };
  const stillRunning = {
    description:
      'Accepted: the compensations (release, void or refund) are still running after CANCEL_WAIT, or the ' +
      'order is already cancelling or not persisted yet; poll Location',
    schema: Accepted,
    headers: { Location: 'The order URL' },
  };

  orders.post('/orders', {
    operationId: 'PlaceOrder',
    summary: 'Place an order: starts its OrderWorkflow',
    description:
      'Waits up to ORDER_CREATE_WAIT for the workflow to persist the order (with Prefer: wait, up to that wait for ' +
      'checkout to confirm, backorder or cancel it): 201 with the order, else 202 with Location. ' +
      'Prices come from the catalog: unknown products, a `price` differing from the catalog, a product in another ' +
      'currency, no items, more than 50 lines or a total above 100,000,000 minor units are 422 with field-level errors. ' +
      'Customers order only for themselves (403). The order id is derived from the caller and the Idempotency-Key: ' +
      'every retry with the key returns the same order, even after the stored answer expired.',
    body: OrderCreate,
    headers: z.object({
      Prefer: z.string().optional().openapi({
        description:
          'RFC 7240 `wait=N` (N <= 30): hold the answer until the order is confirmed, backordered or cancelled',
        example: 'wait=10',
      }),
    }),
    idempotent: true,
    responses: {
      201: {
        description: 'The order, persisted by its workflow',
        schema: Order,
        headers: { Location: 'The order URL' },
      },
      202: {
        description: 'The workflow started but had not persisted the order within the wait; poll Location',
        schema: Accepted,
        headers: { Location: 'The order URL: answers 202 until the order is persisted, then 200' },
      },
      403: { description: 'A customer placing an order for another customer, or a service', schema: Problem },
    },
    async handle({ body }, req, res) {
      const { orderId, order: placed } = await commands.place(body, context(req), preferredWaitMs(req));
      const location = `/v1/orders/${orderId}`;
      res.location(location);
      if (placed) res.status(201).json(toOrderDto(placed));
      else res.status(202).json({ orderId, status: 'accepted', location });
    },
  });

  orders.get('/orders', {
    operationId: 'ListOrders',
    summary: 'List orders, newest first (customers see their own)',
    query: ListOrdersQuery,
    description: 'Customers may only filter by their own customerId (403 otherwise).',
    responses: { 200: { description: 'A page of orders', schema: OrderList } },
    async handle({ query }, req, res) {
      const { rows, totalItems } = await queries.list(query, req.principal!);
      res.json({
        items: rows.map(toOrderDto),
        pagination: {
          totalItems,
          totalPages: Math.ceil(totalItems / query.limit),
          currentPage: query.page,
          itemsPerPage: query.limit,
        },
      });
    },
  });

  order.get('/orders/:orderId', {
    ...readers,
    operationId: 'GetOrder',
    summary: 'Get an order',
    responses: {
      200: { description: 'The order', schema: Order },
      202: {
        description: 'Accepted by POST /v1/orders but not yet persisted by its workflow: poll again',
        schema: Accepted,
      },
    },
    async handle({ params }, req, res) {
      const found = await queries.find(params.orderId, req.principal!);
      if (found.order) res.json(toOrderDto(found.order));
      else
        res.status(202).json({ orderId: params.orderId, status: 'accepted', location: `/v1/orders/${params.orderId}` });
    },
  });

  order.patch('/orders/:orderId', {
    operationId: 'UpdateOrder',
    summary: 'Update the order status: only `cancelled` is accepted from clients',
    description: 'Other statuses are driven by the saga: 409 CONFLICT. `cancelled` cancels like POST .../cancel.',
    body: OrderUpdate,
    idempotent: true,
    responses: {
      200: { description: 'The cancelled order', schema: Order },
      202: stillRunning,
      409: {
        description: 'The status is driven by the saga, or the order can no longer be cancelled',
        schema: Problem,
      },
    },
    async handle({ params, body }, req, res) {
      // Existence (and ownership) first, so a foreign or missing order is 404 whatever the body says.
      await queries.find(params.orderId, req.principal!);
      if (body.status !== 'cancelled') {
        throw ApiError.conflict(
          ErrorCode.CONFLICT,
          `status ${body.status} is set by the order saga; clients may only set cancelled`
        );
      }
      const cancelled = await commands.cancel(params.orderId, CancellationReason.CUSTOMER_REQUESTED, context(req));
      sendOrder(res, params.orderId, cancelled);
    },
  });

  order.post('/orders/:orderId/amendments', {
    operationId: 'AmendOrder',
    summary: 'Replace the items and/or shipping address until the carrier reports a parcel shipped',
    description:
      'Accepted until dispatch, like a cancellation: stock is re-reserved for the difference only and the card ' +
      'authorized for the new total before the old authorization is voided. While FULFILLING, a change of items or ' +
      'address also cancels every requested parcel and requests the parcels of the new lines, one per warehouse ' +
      "(CancelShipment + CreateShipment; the ids in the order's shipments[] change). Once the carrier reported a " +
      'parcel shipped the answer is 409; out of stock or a declined card is 409 too, with the order left exactly ' +
      'as it was.',
    body: AmendRequest,
    idempotent: true,
    responses: {
      200: { description: 'The amended order', schema: Order },
      202: {
        description: 'Amended, but the order is not persisted yet (its POST answered 202); poll Location',
        schema: Accepted,
        headers: { Location: 'The order URL' },
      },
      409: {
        description:
          'Too late to amend (the carrier reported a parcel shipped), or stock or payment refused the change',
        schema: Problem,
      },
    },
    async handle({ params, body }, req, res) {
      sendOrder(res, params.orderId, await commands.amend(params.orderId, body, context(req)));
    },
  });

  order.post('/orders/:orderId/cancel', {
    operationId: 'CancelOrder',
    summary: 'Cancel an order before dispatch: stock is released and the payment voided or refunded',
    description:
      'Waits up to CANCEL_WAIT (default 10s) for the compensations: 200 with the cancelled order, else 202 + Location ' +
      'while they run (also for an order already cancelling, or one not persisted yet). A retry with the same ' +
      'Idempotency-Key never cancels twice.',
    body: CancelRequest,
    idempotent: true,
    responses: {
      200: { description: 'The cancelled order', schema: Order },
      202: stillRunning,
      409: { description: 'Already dispatched: start a return instead', schema: Problem },
    },
    async handle({ params, body }, req, res) {
      sendOrder(res, params.orderId, await commands.cancel(params.orderId, body.reason, context(req)));
    },
  });

  order.get('/orders/:orderId/events', {
    ...readers,
    operationId: 'GetOrderEvents',
    summary: "The order's events, in the order they were recorded",
    responses: { 200: { description: 'Events from the outbox', schema: OrderEvents } },
    async handle({ params }, req, res) {
      await queries.get(params.orderId, req.principal!);
      const rows = await queries.events(params.orderId);
      res.json({
        orderId: params.orderId,
        events: rows.map((row) => ({
          id: row.id,
          type: row.type,
          subject: (row.envelope as { subject: string }).subject,
          channel: row.subject,
          time: row.createdAt.toISOString(),
          published: row.publishedAt !== null,
          envelope: row.envelope as Record<string, unknown>,
        })),
      });
    },
  });

  order.get('/orders/:orderId/payment', {
    ...readers,
    operationId: 'GetPaymentStatus',
    summary: 'Payment status of an order (catalog GetPaymentStatus)',
    tags: ['payments'],
    responses: { 200: { description: 'Payment status', schema: PaymentStatus } },
    async handle({ params }, req, res) {
      res.json(paymentStatus(await queries.get(params.orderId, req.principal!)));
    },
  });
}

/** The catalog's payment status of the order's payment summary; every other summary is still pending. */
const CATALOG_PAYMENT_STATUS: Partial<Record<Order['payment']['status'], 'refunded' | 'completed' | 'failed'>> = {
  refunded: 'refunded',
  captured: 'completed',
  failed: 'failed',
};

/** The catalog's PaymentStatus of an order: its payment summary and every operation on the gateway. */
function paymentStatus(row: OrderRow): z.infer<typeof PaymentStatus> {
  const order = toOrderDto(row);
  const operations = row.payments;
  const capture = operations.find((op) => op.kind === 'CAPTURE' && op.status === 'SUCCEEDED');
  return {
    orderId: order.id,
    paymentStatus: CATALOG_PAYMENT_STATUS[order.payment.status] ?? 'pending',
    amount: toDecimal(
      order.payment.capturedAmount ?? order.payment.authorizedAmount ?? order.totalAmount,
      order.currency
    ),
    currency: order.currency,
    paymentMethod: order.payment.method,
    transactionId: capture?.providerRef ?? operations.at(-1)?.providerRef ?? null,
    paymentDate: (capture ?? operations.at(-1))?.createdAt.toISOString() ?? null,
    operations: operations.map((op) => ({
      id: op.id,
      kind: op.kind,
      status: op.status,
      amount: fromStoredMoney(op.amount),
      createdAt: op.createdAt.toISOString(),
    })),
  };
}
