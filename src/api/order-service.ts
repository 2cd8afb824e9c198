import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { Config } from '../config/config.js';
import type { Db } from '../db/client.js';
import type { Prisma } from '../generated/prisma/client.js';
import type { Address, CancellationReason, OrderLine } from '../domain/order.js';
import { orderTotal } from '../domain/order.js';
import type { OrderTimings, OrderView, OrderWorkflowInput } from '../workflows/messages.js';
import {
  amendOrderUpdate,
  cancelOrderUpdate,
  ORDER_WORKFLOW_TYPE,
  orderWorkflowId,
  restockNoticeSignal,
  shipmentUpdateSignal,
} from '../workflows/messages.js';
import {
  CustomerIdKey,
  NeedsAttentionKey,
  OrderStageKey,
  OrderStatusKey,
  OrderTotalKey,
} from '../workflows/search-attributes.js';
import type { Principal } from './auth.js';
import { canSeeCustomer } from './auth.js';
import type { ErrorDetail } from './errors.js';
import { ApiError, ErrorCode } from './errors.js';
import type { OrderCreate, Order } from './schemas.js';

export interface RequestContext {
  principal: Principal;
  requestId: string;
  traceparent?: string;
}

const orderInclude = {
  items: { orderBy: { sku: 'asc' } },
  payments: { orderBy: { createdAt: 'asc' } },
  reservations: { orderBy: [{ productId: 'asc' }, { warehouseId: 'asc' }] },
  shipment: true,
} satisfies Prisma.OrderInclude;

type OrderRow = Prisma.OrderGetPayload<{ include: typeof orderInclude }>;

/** The payment as a person reads it: the last authorization and what happened to it. */
function paymentSummary(row: OrderRow): Order['payment'] {
  const succeeded = row.payments.filter((payment) => payment.status === 'SUCCEEDED');
  const authorization = succeeded.filter((payment) => payment.kind === 'AUTHORIZATION').at(-1);
  const followUps = succeeded.filter((payment) => payment.authorizationId === authorization?.id);
  const capture = followUps.find((payment) => payment.kind === 'CAPTURE');
  const refunded =
    capture && succeeded.some((payment) => payment.kind === 'REFUND' && payment.authorizationId === capture.id);
  const voided = followUps.some((payment) => payment.kind === 'VOID');
  const failed = !authorization && row.payments.some((payment) => payment.status === 'FAILED');
  const status = refunded
    ? 'refunded'
    : capture
      ? 'captured'
      : voided
        ? 'voided'
        : authorization
          ? 'authorized'
          : failed
            ? 'failed'
            : 'none';
  return {
    method: row.paymentMethod,
    status,
    authorizedAmount: authorization?.amount ?? null,
    capturedAmount: capture?.amount ?? null,
    authorizationExpiresAt: authorization?.expiresAt?.toISOString() ?? null,
  };
}

function reservationSummary(row: OrderRow): Order['reservation'] {
  // Released and expired rows keep no quantity; they only tell that stock was held once.
  const live = row.reservations.filter(
    (reservation) => reservation.status === 'HELD' || reservation.status === 'COMMITTED'
  );
  const statuses = new Set(live.map((reservation) => reservation.status));
  const status = statuses.has('HELD')
    ? 'held'
    : statuses.has('COMMITTED')
      ? 'committed'
      : row.reservations.length
        ? 'released'
        : 'none';
  return {
    status,
    items: live.map(({ productId, warehouseId, quantity, status: s }) => ({
      productId,
      warehouseId,
      quantity,
      status: s,
    })),
  };
}

export function toOrderDto(row: OrderRow): Order {
  return {
    id: row.id,
    orderId: row.id,
    customerId: row.customerId,
    status: row.status as Order['status'],
    stage: row.stage as Order['stage'],
    revision: row.revision,
    items: row.items.map((item) => ({
      productId: item.productId,
      sku: item.sku,
      name: item.productName,
      quantity: item.quantity,
      price: item.unitPrice,
      lineTotal: item.unitPrice * item.quantity,
    })),
    currency: row.currency,
    totalAmount: row.totalAmount,
    total: { amount: row.totalAmount, currency: row.currency },
    shippingAddress: row.shippingAddress as unknown as Address,
    billingAddress: (row.billingAddress as unknown as Address | null) ?? null,
    payment: paymentSummary(row),
    reservation: reservationSummary(row),
    shipment: row.shipment
      ? { shipmentId: row.shipment.id, status: row.shipment.status, method: row.shipment.method }
      : null,
    cancellationReason: (row.cancellationReason as CancellationReason | null) ?? null,
    needsAttention: row.needsAttention,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

export function orderTimings(config: Config): OrderTimings {
  return {
    reservationHoldMs: config.RESERVATION_HOLD,
    authorizationHoldMs: config.AUTHORIZATION_HOLD,
    reauthorizeBeforeMs: config.REAUTHORIZE_BEFORE,
    backorderWindowMs: config.BACKORDER_WINDOW,
    dispatchDeadlineMs: config.DISPATCH_DEADLINE,
    compensationMaxAttempts: config.COMPENSATION_MAX_ATTEMPTS,
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Translates a failed update into the HTTP answer the caller should get. */
function updateRefusal(error: unknown, code: ErrorCode): ApiError | undefined {
  if (error instanceof WorkflowUpdateFailedError) {
    const cause = error.cause;
    const message = cause instanceof ApplicationFailure ? cause.message : 'the order refused the request';
    return ApiError.conflict(code, message);
  }
  return undefined;
}

export class OrderService {
  constructor(
    private readonly db: Db,
    private readonly temporal: Client,
    private readonly config: Config
  ) {}

  /** Prices each line from the catalog: unknown products and prices that differ from the client's are 422. */
  async priceLines(items: { productId: string; quantity: number; price?: number | undefined }[], currency: string) {
    const products = await this.db.product.findMany({ where: { id: { in: items.map((item) => item.productId) } } });
    const byId = new Map(products.map((product) => [product.id, product]));
    const problems: ErrorDetail[] = [];
    const lines: OrderLine[] = [];
    items.forEach((item, index) => {
      const product = byId.get(item.productId);
      const field = `items.${index}`;
      if (!product) return problems.push({ field: `${field}.productId`, message: `unknown product ${item.productId}` });
      if (product.currency !== currency) {
        return problems.push({
          field: `${field}.productId`,
          message: `priced in ${product.currency}, not ${currency}`,
        });
      }
      if (item.price !== undefined && item.price !== product.unitPrice) {
        return problems.push({
          field: `${field}.price`,
          message: `the price is ${product.unitPrice}, not ${item.price}`,
        });
      }
      lines.push({
        productId: product.id,
        sku: product.sku,
        name: product.name,
        quantity: item.quantity,
        unitPrice: product.unitPrice,
      });
    });
    if (problems.length > 0) throw ApiError.validation('some items cannot be ordered', problems);
    return lines;
  }

  async placeOrder(body: OrderCreate, context: RequestContext): Promise<{ orderId: string; order?: Order }> {
    if (!canSeeCustomer(context.principal, body.customerId)) {
      throw new ApiError(403, ErrorCode.FORBIDDEN, 'customers can only place orders for themselves');
    }
    const lines = await this.priceLines(body.items, body.currency);
    const orderId = randomUUID();
    const input: OrderWorkflowInput = {
      orderId,
      customerId: body.customerId,
      lines,
      currency: body.currency,
      shippingAddress: body.shippingAddress,
      ...(body.billingAddress ? { billingAddress: body.billingAddress } : {}),
      payment: body.payment,
      shippingMethod: body.shippingMethod,
      ...(body.subscriptionId ? { subscriptionId: body.subscriptionId } : {}),
      timings: orderTimings(this.config),
      causationId: context.requestId,
      ...(context.traceparent ? { traceparent: context.traceparent } : {}),
    };
    const total = orderTotal(lines);
    await this.temporal.workflow.start(ORDER_WORKFLOW_TYPE, {
      workflowId: orderWorkflowId(orderId),
      taskQueue: this.config.TEMPORAL_TASK_QUEUE,
      args: [input],
      typedSearchAttributes: [
        { key: OrderStatusKey, value: 'pending' },
        { key: OrderStageKey, value: 'PENDING' },
        { key: CustomerIdKey, value: body.customerId },
        { key: OrderTotalKey, value: total },
        { key: NeedsAttentionKey, value: false },
      ],
      staticSummary: `Order ${orderId}: ${lines.length} line(s), ${total} ${body.currency} minor units`,
      staticDetails: `Customer ${body.customerId}\n${lines.map((line) => `- ${line.quantity} x ${line.sku}`).join('\n')}`,
    });
    // The order exists from here on: if reading it back fails, the answer is 202 (it will be persisted), never an
    // error that would free the Idempotency-Key for a retry that places a second order.
    const order = await this.waitForOrder(orderId, this.config.ORDER_CREATE_WAIT, () => true).catch(() => undefined);
    return { orderId, ...(order ? { order } : {}) };
  }

  /** Polls the system of record until the order satisfies `done` or the time is up. */
  async waitForOrder(orderId: string, waitMs: number, done: (order: Order) => boolean): Promise<Order | undefined> {
    const until = Date.now() + waitMs;
    for (;;) {
      const row = await this.db.order.findUnique({ where: { id: orderId }, include: orderInclude });
      const order = row ? toOrderDto(row) : undefined;
      if ((order && done(order)) || Date.now() >= until) return order;
      await sleep(50);
    }
  }

  async getOrder(orderId: string, principal: Principal): Promise<Order> {
    const row = await this.db.order.findUnique({ where: { id: orderId }, include: orderInclude });
    if (!row || !canSeeCustomer(principal, row.customerId)) throw ApiError.notFound(`order ${orderId}`);
    return toOrderDto(row);
  }

  /**
   * The order, or `{}` when it is not persisted yet but its workflow runs (POST answered 202): the caller should poll.
   * Missing, or another customer's, is 404.
   */
  async findOrder(orderId: string, principal: Principal): Promise<{ order?: Order }> {
    const row = await this.db.order.findUnique({ where: { id: orderId }, include: orderInclude });
    if (row) {
      if (!canSeeCustomer(principal, row.customerId)) throw ApiError.notFound(`order ${orderId}`);
      return { order: toOrderDto(row) };
    }
    try {
      const description = await this.temporal.workflow.getHandle(orderWorkflowId(orderId)).describe();
      const customerId = description.typedSearchAttributes.get(CustomerIdKey);
      if (description.status.name === 'RUNNING' && customerId && canSeeCustomer(principal, customerId)) return {};
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
    }
    throw ApiError.notFound(`order ${orderId}`);
  }

  async listOrders(
    query: { status?: string | undefined; customerId?: string | undefined; page: number; limit: number },
    principal: Principal
  ) {
    const customerId = principal.role === 'customer' ? principal.subject : query.customerId;
    if (principal.role === 'customer' && query.customerId && query.customerId !== principal.subject) {
      throw new ApiError(403, ErrorCode.FORBIDDEN, 'customers can only list their own orders');
    }
    const where = { ...(query.status ? { status: query.status } : {}), ...(customerId ? { customerId } : {}) };
    const [rows, totalItems] = await Promise.all([
      this.db.order.findMany({
        where,
        include: orderInclude,
        orderBy: [{ createdAt: 'desc' }, { id: 'asc' }],
        skip: (query.page - 1) * query.limit,
        take: query.limit,
      }),
      this.db.order.count({ where }),
    ]);
    return {
      items: rows.map((row) => toOrderDto(row)),
      pagination: {
        totalItems,
        totalPages: Math.ceil(totalItems / query.limit),
        currentPage: query.page,
        itemsPerPage: query.limit,
      },
    };
  }

  async amend(
    orderId: string,
    body: {
      items?: { productId: string; quantity: number; price?: number | undefined }[] | undefined;
      shippingAddress?: Address | undefined;
    },
    context: RequestContext & { updateId: string }
  ): Promise<Order> {
    const current = await this.getOrder(orderId, context.principal);
    if (body.items) await this.priceLines(body.items, current.currency);
    await this.runUpdate(orderId, ErrorCode.ORDER_NOT_AMENDABLE, (handle) =>
      handle.executeUpdate(amendOrderUpdate, {
        args: [
          {
            requestId: context.updateId,
            ...(body.items ? { items: body.items.map(({ productId, quantity }) => ({ productId, quantity })) } : {}),
            ...(body.shippingAddress ? { shippingAddress: body.shippingAddress } : {}),
          },
        ],
        updateId: context.updateId,
      })
    );
    return this.getOrder(orderId, context.principal);
  }

  async cancel(
    orderId: string,
    reason: CancellationReason,
    context: RequestContext & { updateId: string }
  ): Promise<Order> {
    const current = await this.getOrder(orderId, context.principal);
    if (context.principal.role === 'customer' && reason !== 'CUSTOMER_REQUESTED') {
      throw new ApiError(403, ErrorCode.FORBIDDEN, 'customers cancel with reason CUSTOMER_REQUESTED');
    }
    if (current.stage === 'CANCELLED') return current;
    await this.runUpdate(orderId, ErrorCode.ORDER_NOT_CANCELLABLE, (handle) =>
      handle.executeUpdate(cancelOrderUpdate, {
        args: [{ requestId: context.updateId, reason }],
        updateId: context.updateId,
      })
    );
    return this.getOrder(orderId, context.principal);
  }

  private async runUpdate(
    orderId: string,
    code: ErrorCode,
    update: (handle: ReturnType<Client['workflow']['getHandle']>) => Promise<OrderView>
  ) {
    try {
      return await update(this.temporal.workflow.getHandle(orderWorkflowId(orderId)));
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) {
        throw ApiError.conflict(code, 'the order is finished and can no longer change');
      }
      throw updateRefusal(error, code) ?? error;
    }
  }

  /** A carrier update: the order's workflow decides what it means (dispatch, delivery, trouble). */
  async shipmentStatus(
    shipmentId: string,
    status: 'shipped' | 'in_transit' | 'delivered' | 'failed' | 'returned',
    eventId: string
  ) {
    const shipment = await this.db.shipment.findUnique({ where: { id: shipmentId } });
    if (!shipment) throw ApiError.notFound(`shipment ${shipmentId}`);
    try {
      await this.temporal.workflow
        .getHandle(orderWorkflowId(shipment.orderId))
        .signal(shipmentUpdateSignal, { eventId, status });
    } catch (error) {
      if (error instanceof WorkflowNotFoundError)
        throw ApiError.conflict(ErrorCode.CONFLICT, 'the order is already finished');
      throw error;
    }
    return { shipmentId, orderId: shipment.orderId, status, accepted: true };
  }

  /** Wakes every backordered order that waits for this product. */
  async notifyRestock(productId: string): Promise<number> {
    const waiting = await this.db.order.findMany({
      where: { stage: 'BACKORDERED', items: { some: { productId } } },
      select: { id: true },
    });
    await Promise.all(
      waiting.map((order) =>
        this.temporal.workflow
          .getHandle(orderWorkflowId(order.id))
          .signal(restockNoticeSignal, { productId })
          .catch((error: unknown) => {
            if (!(error instanceof WorkflowNotFoundError)) throw error;
          })
      )
    );
    return waiting.length;
  }
}
