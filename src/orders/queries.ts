import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Db, Tx } from '../db/client.js';
import type { Stage } from '../domain/order.js';
import { CANCELLABLE_STAGES } from '../domain/order.js';
import type { Principal } from '../domain/principal.js';
import { canSeeCustomer } from '../domain/principal.js';
import type { Prisma } from '../generated/prisma/client.js';
import { getOrderQuery, orderWorkflowId } from '../workflows/messages.js';
import { CustomerIdKey } from '../workflows/search-attributes.js';
import { NotPermittedError, OrderNotFoundError } from './errors.js';

/** An order as the system of record holds it, with everything a reader of the order needs. */
export const orderInclude = {
  items: { orderBy: { sku: 'asc' } },
  payments: { orderBy: { createdAt: 'asc' } },
  reservations: { orderBy: [{ productId: 'asc' }, { warehouseId: 'asc' }] },
  // The parcels in warehouse order, the order's single shipment (no warehouse) first: `shipment` is the first.
  shipments: { orderBy: [{ warehouseId: { sort: 'asc', nulls: 'first' } }, { id: 'asc' }] },
  returns: { include: { items: { orderBy: { productId: 'asc' } } }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] },
} satisfies Prisma.OrderInclude;

export type OrderRow = Prisma.OrderGetPayload<{ include: typeof orderInclude }>;

export interface ListQuery {
  status?: string | undefined;
  customerId?: string | undefined;
  page: number;
  limit: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Reads of orders as a principal may see them: their rows, or the workflow of one not persisted yet. */
export class OrderQueries {
  constructor(
    private readonly db: Db,
    private readonly temporal: Client
  ) {}

  /**
   * Polls the system of record until the order exists (and, with `stages`, has reached one of them) or the time is
   * up; returns what it last read.
   */
  async waitFor(orderId: string, waitMs: number, stages?: readonly Stage[]): Promise<OrderRow | undefined> {
    const until = Date.now() + waitMs;
    for (;;) {
      const row = await this.db.order.findUnique({ where: { id: orderId }, include: orderInclude });
      if ((row && (!stages || stages.some((stage) => stage === row.stage))) || Date.now() >= until) {
        return row ?? undefined;
      }
      await sleep(50);
    }
  }

  /** The order's row as it stands, if persisted (the caller has already been allowed to see it). */
  async read(orderId: string): Promise<OrderRow | undefined> {
    return (await this.db.order.findUnique({ where: { id: orderId }, include: orderInclude })) ?? undefined;
  }

  /** The persisted order; missing, not persisted yet, or another customer's is OrderNotFoundError. */
  async get(orderId: string, principal: Principal): Promise<OrderRow> {
    const row = await this.db.order.findUnique({ where: { id: orderId }, include: orderInclude });
    if (!row || !canSeeCustomer(principal, row.customerId)) throw new OrderNotFoundError(orderId);
    return row;
  }

  /**
   * The order, or `{}` when it is not persisted yet but its workflow runs (its placement answered 202): the caller
   * should poll. Missing, or another customer's, is OrderNotFoundError.
   */
  async find(orderId: string, principal: Principal): Promise<{ order?: OrderRow }> {
    const row = await this.db.order.findUnique({ where: { id: orderId }, include: orderInclude });
    if (row) {
      if (!canSeeCustomer(principal, row.customerId)) throw new OrderNotFoundError(orderId);
      return { order: row };
    }
    try {
      const description = await this.temporal.workflow.getHandle(orderWorkflowId(orderId)).describe();
      const customerId = description.typedSearchAttributes.get(CustomerIdKey);
      if (description.status.name === 'RUNNING' && customerId && canSeeCustomer(principal, customerId)) return {};
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
    }
    throw new OrderNotFoundError(orderId);
  }

  /** The currency of an order not persisted yet, from its workflow's input. */
  async currencyOfRunning(orderId: string): Promise<string> {
    const view = await this.temporal.workflow.getHandle(orderWorkflowId(orderId)).query(getOrderQuery);
    return view.currency;
  }

  /** A page of orders, newest first; customers see only their own and may filter by no one else. */
  async list(query: ListQuery, principal: Principal): Promise<{ rows: OrderRow[]; totalItems: number }> {
    const customerId = principal.role === 'customer' ? principal.subject : query.customerId;
    if (principal.role === 'customer' && query.customerId && query.customerId !== principal.subject) {
      throw new NotPermittedError('customers can only list their own orders');
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
    return { rows, totalItems };
  }

  /** The order's events from the outbox, in the order they were recorded. */
  async events(orderId: string) {
    return this.db.outbox.findMany({
      where: { envelope: { path: ['correlationid'], equals: orderId } },
      orderBy: { seq: 'asc' },
    });
  }
}

/** A customer's orders placed under a subscription that can still be cancelled, oldest first. */
export function cancellableSubscriptionOrders(
  db: Db | Tx,
  subscription: { customerId: string; subscriptionId: string }
): Promise<{ id: string }[]> {
  return db.order.findMany({
    where: {
      ...subscription,
      status: { in: ['pending', 'processing'] },
      stage: { in: [...CANCELLABLE_STAGES] },
    },
    select: { id: true },
    orderBy: { createdAt: 'asc' },
  });
}
