import type { Request, Response } from 'express';
import { z } from 'zod';
import type { Db } from '../../db/client.js';
import { ApiError, ErrorCode } from '../errors.js';
import type { OrderService, RequestContext } from '../order-service.js';
import type { RouteEnv } from '../route.js';
import { defineRoute } from '../route.js';
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
import { toDecimal } from '../../domain/money.js';
import { CancellationReason } from '../../domain/order.js';

const MAX_PREFER_WAIT_S = 30;

/** Who asks, under which operation id, and the trace the request belongs to. */
export function context(req: Request): RequestContext & { updateId: string; operationId: string } {
  return {
    operationId: req.operationId!,
    principal: req.principal!,
    requestId: req.res!.locals.requestId as string,
    ...(req.res!.locals.traceparent ? { traceparent: req.res!.locals.traceparent as string } : {}),
    updateId: req.operationId!,
  };
}

/** `Prefer: wait=10` asks to hold the answer until the order is confirmed or has failed (RFC 7240). */
function preferredWaitMs(req: Request): number | undefined {
  const match = /(?:^|[,;\s])wait=(\d+)/.exec(req.get('prefer') ?? '');
  return match ? Math.min(Number(match[1]), MAX_PREFER_WAIT_S) * 1_000 : undefined;
}

/** The order after a change, or 202 + Location while the change (or the order itself) is still being persisted. */
function sendOrder(res: Response, orderId: string, order: Order | undefined) {
  const location = `/v1/orders/${orderId}`;
  if (order) res.json(order);
  else res.status(202).location(location).json({ orderId, status: 'accepted', location });
}

export function orderRoutes(routes: RouteEnv, orders: OrderService, db: Db): void {
  const notFound = {
    description: 'No such order (or not yours); an order whose workflow runs but is not persisted yet is found',
    schema: Problem,
  };
  const stillRunning = {
    description:
      'Accepted: the compensations (release, void or refund) are still running after CANCEL_WAIT, or the ' +
      'order is already cancelling or not persisted yet; poll Location',
    schema: Accepted,
    headers: { Location: 'The order URL' },
  };

  defineRoute(
    routes,
    {
      method: 'post',
      path: '/orders',
      operationId: 'PlaceOrder',
      summary: 'Place an order: starts its OrderWorkflow',
      tags: ['orders'],
      description:
        'Waits up to ORDER_CREATE_WAIT for the workflow to persist the order (with Prefer: wait, up to that wait for ' +
        'checkout to confirm, backorder or cancel it): 201 with the order, else 202 with Location. ' +
        'Prices come from the catalog: unknown products, a `price` differing from the catalog, a product in another ' +
        'currency, no items, more than 50 lines or a total above 100,000,000 minor units are 422 with field-level errors. ' +
        'Customers order only for themselves (403). The order id is derived from the caller and the Idempotency-Key: ' +
        'every retry with the key returns the same order, even after the stored answer expired.',
      roles: ['customer', 'operator'],
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
    },
    async ({ body }, req, res) => {
      const { orderId, order } = await orders.placeOrder(body, context(req), preferredWaitMs(req));
      const location = `/v1/orders/${orderId}`;
      res.location(location);
      if (order) res.status(201).json(order);
      else res.status(202).json({ orderId, status: 'accepted', location });
    }
  );

  defineRoute(
    routes,
    {
      method: 'get',
      path: '/orders',
      operationId: 'ListOrders',
      summary: 'List orders, newest first (customers see their own)',
      tags: ['orders'],
      roles: ['customer', 'operator'],
      query: ListOrdersQuery,
      description: 'Customers may only filter by their own customerId (403 otherwise).',
      responses: { 200: { description: 'A page of orders', schema: OrderList } },
    },
    async ({ query }, req, res) => {
      res.json(await orders.listOrders(query, req.principal!));
    }
  );

  defineRoute(
    routes,
    {
      method: 'get',
      path: '/orders/:orderId',
      operationId: 'GetOrder',
      summary: 'Get an order',
      tags: ['orders'],
      roles: ['customer', 'operator', 'service'],
      params: OrderIdParams,
      responses: {
        200: { description: 'The order', schema: Order },
        202: {
          description: 'Accepted by POST /v1/orders but not yet persisted by its workflow: poll again',
          schema: Accepted,
        },
        404: notFound,
      },
    },
    async ({ params }, req, res) => {
      const found = await orders.findOrder(params.orderId, req.principal!);
      if (found.order) res.json(found.order);
      else
        res.status(202).json({ orderId: params.orderId, status: 'accepted', location: `/v1/orders/${params.orderId}` });
    }
  );

  defineRoute(
    routes,
    {
      method: 'patch',
      path: '/orders/:orderId',
      operationId: 'UpdateOrder',
      summary: 'Update the order status: only `cancelled` is accepted from clients',
      description: 'Other statuses are driven by the saga: 409 CONFLICT. `cancelled` cancels like POST .../cancel.',
      tags: ['orders'],
      roles: ['customer', 'operator'],
      params: OrderIdParams,
      body: OrderUpdate,
      idempotent: true,
      responses: {
        200: { description: 'The cancelled order', schema: Order },
        202: stillRunning,
        404: notFound,
        409: {
          description: 'The status is driven by the saga, or the order can no longer be cancelled',
          schema: Problem,
        },
      },
    },
    async ({ params, body }, req, res) => {
      // Existence (and ownership) first, so a foreign or missing order is 404 whatever the body says.
      await orders.findOrder(params.orderId, req.principal!);
      if (body.status !== 'cancelled') {
        throw ApiError.conflict(
          ErrorCode.CONFLICT,
          `status ${body.status} is set by the order saga; clients may only set cancelled`
        );
      }
      sendOrder(
        res,
        params.orderId,
        await orders.cancel(params.orderId, CancellationReason.CUSTOMER_REQUESTED, context(req))
      );
    }
  );

  defineRoute(
    routes,
    {
      method: 'post',
      path: '/orders/:orderId/amendments',
      operationId: 'AmendOrder',
      summary: 'Replace the items and/or shipping address before fulfilment starts',
      tags: ['orders'],
      roles: ['customer', 'operator'],
      params: OrderIdParams,
      body: AmendRequest,
      idempotent: true,
      responses: {
        200: { description: 'The amended order', schema: Order },
        202: {
          description: 'Amended, but the order is not persisted yet (its POST answered 202); poll Location',
          schema: Accepted,
          headers: { Location: 'The order URL' },
        },
        404: notFound,
        409: { description: 'Too late to amend, or stock or payment refused the change', schema: Problem },
      },
    },
    async ({ params, body }, req, res) => {
      sendOrder(res, params.orderId, await orders.amend(params.orderId, body, context(req)));
    }
  );

  defineRoute(
    routes,
    {
      method: 'post',
      path: '/orders/:orderId/cancel',
      operationId: 'CancelOrder',
      summary: 'Cancel an order before dispatch: stock is released and the payment voided or refunded',
      description:
        'Waits up to CANCEL_WAIT (default 10s) for the compensations: 200 with the cancelled order, else 202 + Location ' +
        'while they run (also for an order already cancelling, or one not persisted yet). A retry with the same ' +
        'Idempotency-Key never cancels twice.',
      tags: ['orders'],
      roles: ['customer', 'operator'],
      params: OrderIdParams,
      body: CancelRequest,
      idempotent: true,
      responses: {
        200: { description: 'The cancelled order', schema: Order },
        202: stillRunning,
        404: notFound,
        409: { description: 'Already dispatched: start a return instead', schema: Problem },
      },
    },
    async ({ params, body }, req, res) => {
      sendOrder(res, params.orderId, await orders.cancel(params.orderId, body.reason, context(req)));
    }
  );

  defineRoute(
    routes,
    {
      method: 'get',
      path: '/orders/:orderId/events',
      operationId: 'GetOrderEvents',
      summary: "The order's events, in the order they were recorded",
      tags: ['orders'],
      roles: ['customer', 'operator', 'service'],
      params: OrderIdParams,
      responses: { 200: { description: 'Events from the outbox', schema: OrderEvents }, 404: notFound },
    },
    async ({ params }, req, res) => {
      await orders.getOrder(params.orderId, req.principal!);
      const rows = await db.outbox.findMany({
        where: { envelope: { path: ['correlationid'], equals: params.orderId } },
        orderBy: { seq: 'asc' },
      });
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
    }
  );

  defineRoute(
    routes,
    {
      method: 'get',
      path: '/orders/:orderId/payment',
      operationId: 'GetPaymentStatus',
      summary: 'Payment status of an order (catalog GetPaymentStatus)',
      tags: ['payments'],
      roles: ['customer', 'operator', 'service'],
      params: OrderIdParams,
      responses: { 200: { description: 'Payment status', schema: PaymentStatus }, 404: notFound },
    },
    async ({ params }, req, res) => {
      const order = await orders.getOrder(params.orderId, req.principal!);
      const operations = await db.payment.findMany({ where: { orderId: order.id }, orderBy: { createdAt: 'asc' } });
      const capture = operations.find((op) => op.kind === 'CAPTURE' && op.status === 'SUCCEEDED');
      const paymentStatus = {
        refunded: 'refunded',
        captured: 'completed',
        failed: 'failed',
      }[order.payment.status as string] as z.infer<typeof PaymentStatus>['paymentStatus'] | undefined;
      res.json({
        orderId: order.id,
        paymentStatus: paymentStatus ?? 'pending',
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
          amount: op.amount,
          createdAt: op.createdAt.toISOString(),
        })),
      });
    }
  );
}
