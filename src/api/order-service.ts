import { trace } from '@opentelemetry/api';
import { ORDER_ID_ATTRIBUTE } from '../tracing/spans.js';
import type { Client } from '@temporalio/client';
import { v5 as uuidv5 } from 'uuid';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, WorkflowUpdateStage } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { Config } from '../config/config.js';
import type { Db } from '../db/client.js';
import type { Address } from '../domain/order.js';
import { CancellationReason, orderTotal } from '../domain/order.js';
import { MAX_ORDER_TOTAL } from '../domain/money.js';
import type { LineRequest } from '../orders/pricing.js';
import { priceLines } from '../orders/pricing.js';
import { placeOrderWorkflow, startOrderWorkflow } from '../orders/workflow-commands.js';
import {
  amendOrderUpdate,
  cancelOrderUpdate,
  getOrderQuery,
  orderWorkflowId,
  shipmentUpdateSignal,
} from '../workflows/messages.js';
import { CustomerIdKey } from '../workflows/search-attributes.js';
import type { Principal } from './auth.js';
import { canSeeCustomer } from './auth.js';
import { ApiError, ErrorCode } from './errors.js';
import { orderInclude, toOrderDto } from './order-dto.js';
import type { OrderCreate, Order } from './schemas.js';

export interface RequestContext {
  principal: Principal;
  requestId: string;
  traceparent?: string;
}

/** The UUIDv5 namespace of order ids derived from operation ids. Never change it: retries would fork orders. */
const ORDER_ID_NAMESPACE = 'c2a3d0f4-5b8e-4f61-9a7d-3e1b6c0f8a52';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Translates a failed update into the HTTP answer the caller should get. Only the order's own refusal (an
 * ApplicationFailure from its validator or handler) is a final 409, remembered for the Idempotency-Key; an update that
 * failed otherwise (timed out, cancelled) may succeed when retried with the same key: 503, not remembered.
 */
function updateRefusal(error: unknown, code: ErrorCode): ApiError | undefined {
  if (error instanceof WorkflowUpdateFailedError) {
    return error.cause instanceof ApplicationFailure
      ? ApiError.conflict(code, error.cause.message)
      : ApiError.unavailable();
  }
  return undefined;
}

export class OrderService {
  constructor(
    private readonly db: Db,
    private readonly temporal: Client,
    private readonly config: Config
  ) {}

  /**
   * Prices each line from the catalog: unknown products, other currencies, changed prices and a total above
   * MAX_ORDER_TOTAL are 422.
   */
  async priceLines(items: LineRequest[], currency: string) {
    const { lines, problems } = await priceLines(this.db, items, currency);
    if (problems.length > 0) {
      throw ApiError.validation(
        'some items cannot be ordered',
        problems.map(({ index, field, message }) => ({ field: `items.${index}.${field}`, message }))
      );
    }
    const total = orderTotal(lines);
    if (total > MAX_ORDER_TOTAL) {
      throw ApiError.validation('the order total is too large', [
        { field: 'items', message: `the total ${total} exceeds the maximum of ${MAX_ORDER_TOTAL} minor units` },
      ]);
    }
    return lines;
  }

  /**
   * The order id is derived from the operation (the caller's Idempotency-Key scoped to the caller, or a random id), so
   * every retry of one request names the same order and, through the workflow id, can start at most one saga: a retry
   * after a lost answer, a 503, an abandoned key taken over, or a key that expired all join the first order.
   */
  async placeOrder(
    body: OrderCreate,
    context: RequestContext & { operationId: string },
    settleWithinMs?: number
  ): Promise<{ orderId: string; order?: Order }> {
    if (!canSeeCustomer(context.principal, body.customerId)) {
      throw new ApiError(403, ErrorCode.FORBIDDEN, 'customers can only place orders for themselves');
    }
    const lines = await this.priceLines(body.items, body.currency);
    const orderId = uuidv5(context.operationId, ORDER_ID_NAMESPACE);
    trace.getActiveSpan()?.setAttribute(ORDER_ID_ATTRIBUTE, orderId);
    const order = {
      orderId,
      customerId: body.customerId,
      lines,
      currency: body.currency,
      shippingAddress: body.shippingAddress,
      ...(body.billingAddress ? { billingAddress: body.billingAddress } : {}),
      payment: body.payment,
      shippingMethod: body.shippingMethod,
      ...(body.subscriptionId ? { subscriptionId: body.subscriptionId } : {}),
      causationId: context.requestId,
      ...(context.traceparent ? { traceparent: context.traceparent } : {}),
    };
    // The order exists from here on: if reading it back fails, the answer is 202 (it will be persisted), never an
    // error that would free the Idempotency-Key for a retry that places a second order.
    if (settleWithinMs) {
      // The caller waits for the outcome: the call that starts the saga also waits for it, no polling.
      const waitMs = settleWithinMs;
      await placeOrderWorkflow(this.temporal, this.config, order, { updateId: context.operationId, waitMs });
      const row = await this.db.order
        .findUnique({ where: { id: orderId }, include: orderInclude })
        .catch(() => undefined);
      return { orderId, ...(row ? { order: toOrderDto(row) } : {}) };
    }
    await startOrderWorkflow(this.temporal, this.config, order);
    const created = await this.waitForOrder(orderId, this.config.ORDER_CREATE_WAIT, () => true).catch(() => undefined);
    return { orderId, ...(created ? { order: created } : {}) };
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
  ): Promise<Order | undefined> {
    const { order: current } = await this.findOrder(orderId, context.principal);
    if (body.items) await this.priceLines(body.items, current?.currency ?? (await this.currencyOf(orderId)));
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
    return (await this.findOrder(orderId, context.principal)).order;
  }

  /** The currency of an order not persisted yet, from its workflow's input. */
  private async currencyOf(orderId: string): Promise<string> {
    const view = await this.temporal.workflow.getHandle(orderWorkflowId(orderId)).query(getOrderQuery);
    return view.currency;
  }

  /**
   * Cancels and waits up to CANCEL_WAIT for the compensations: the cancelled order, or undefined while they still run
   * (the caller answers 202 and the client polls). An order already cancelling is not cancelled twice.
   */
  async cancel(
    orderId: string,
    reason: CancellationReason,
    context: RequestContext & { updateId: string }
  ): Promise<Order | undefined> {
    const { order: current } = await this.findOrder(orderId, context.principal);
    if (context.principal.role === 'customer' && reason !== CancellationReason.CUSTOMER_REQUESTED) {
      throw new ApiError(403, ErrorCode.FORBIDDEN, 'customers cancel with reason CUSTOMER_REQUESTED');
    }
    if (current?.stage === 'CANCELLED') return current;
    if (current?.stage === 'CANCELLING') return undefined;
    // After dispatch the catalog's answer is "start a return": say where (a delivered order's workflow is closed).
    const returns = `start a return instead: POST /v1/orders/${orderId}/returns`;
    if (current?.stage === 'SHIPPED' || current?.stage === 'COMPLETED') {
      throw ApiError.conflict(
        ErrorCode.ORDER_NOT_CANCELLABLE,
        `the order was dispatched (stage ${current.stage}); ${returns}`
      );
    }
    const cancelled = this.runUpdate(orderId, ErrorCode.ORDER_NOT_CANCELLABLE, async (handle) => {
      const update = await handle.startUpdate(cancelOrderUpdate, {
        args: [{ requestId: context.updateId, reason }],
        updateId: context.updateId,
        waitForStage: WorkflowUpdateStage.ACCEPTED,
      });
      return update.result();
    }).catch((error: unknown) => {
      // The workflow's refusal says "start a return"; the answer also names the route.
      if (error instanceof ApiError && error.message.includes('start a return') && !error.message.includes('POST')) {
        throw ApiError.conflict(
          ErrorCode.ORDER_NOT_CANCELLABLE,
          `${error.message}: POST /v1/orders/${orderId}/returns`
        );
      }
      throw error;
    });
    // Left running past the deadline, the update still completes in the workflow; its outcome is read by polling.
    cancelled.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'waiting'>((resolve) => {
      timer = setTimeout(() => resolve('waiting'), this.config.CANCEL_WAIT);
    });
    try {
      if ((await Promise.race([cancelled, deadline])) === 'waiting') return undefined;
    } finally {
      clearTimeout(timer);
    }
    return this.waitForOrder(orderId, this.config.CANCEL_WAIT, (order) => order.stage === 'CANCELLED');
  }

  private async runUpdate<T>(
    orderId: string,
    code: ErrorCode,
    update: (handle: ReturnType<Client['workflow']['getHandle']>) => Promise<T>
  ): Promise<T> {
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
}
