import { trace } from '@opentelemetry/api';
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, WorkflowUpdateStage } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { v5 as uuidv5 } from 'uuid';
import type { Config } from '../config/config.js';
import type { Db } from '../db/client.js';
import { MAX_ORDER_TOTAL } from '../domain/money.js';
import type { Address, PaymentDetails } from '../domain/order.js';
import { CancellationReason, orderTotal, SETTLED_STAGES, Stage } from '../domain/order.js';
import type { Principal } from '../domain/principal.js';
import { canSeeCustomer } from '../domain/principal.js';
import { shipmentStatusOf } from '../domain/shipment.js';
import { ORDER_ID_ATTRIBUTE } from '../tracing/spans.js';
import type { OrderWorkflowInput, ShipmentUpdateStatus } from '../workflows/messages.js';
import type { CancelOrderInput } from '../workflows/messages.js';
import {
  amendOrderUpdate,
  cancelOrderSignal,
  cancelOrderUpdate,
  orderWorkflowId,
  shipmentUpdateSignal,
} from '../workflows/messages.js';
import {
  AmendRefusedError,
  CancelRefusedError,
  LinesNotOrderableError,
  NotPermittedError,
  OrderFinishedError,
  OrderTotalTooLargeError,
  ShipmentNotFoundError,
  UpdateInterruptedError,
} from './errors.js';
import type { LineRequest } from './pricing.js';
import { priceLines } from './pricing.js';
import type { OrderQueries, OrderRow } from './queries.js';
import { placeOrderWorkflow, startOrderWorkflow } from './workflow-commands.js';

/** Who asks, and the ids that make a retried request the same command. */
export interface CommandContext {
  principal: Principal;
  /**
   * Names the operation (the caller's Idempotency-Key scoped to the caller, or a random id): a placement derives the
   * order id from it, amendments and cancellations use it as their Temporal update id, so a retry applies once.
   */
  operationId: string;
  /** What caused the command (the HTTP request id), carried into the order's events. */
  causationId: string;
  traceparent?: string;
}

export interface PlaceOrder {
  customerId: string;
  currency: string;
  items: LineRequest[];
  shippingAddress: Address;
  billingAddress?: Address | undefined;
  payment: PaymentDetails;
  shippingMethod: OrderWorkflowInput['shippingMethod'];
  subscriptionId?: string | undefined;
}

export interface AmendOrder {
  items?: LineRequest[] | undefined;
  shippingAddress?: Address | undefined;
}

/** The UUIDv5 namespace of order ids derived from operation ids. Never change it: retries would fork orders. */
const ORDER_ID_NAMESPACE = 'c2a3d0f4-5b8e-4f61-9a7d-3e1b6c0f8a52';

type WorkflowHandle = ReturnType<Client['workflow']['getHandle']>;

/** Commands on orders from callers (API requests): place, amend, cancel, and carrier updates. */
export class OrderCommands {
  constructor(
    private readonly db: Db,
    private readonly temporal: Client,
    private readonly config: Config,
    private readonly queries: OrderQueries
  ) {}

  /**
   * Prices each line from the catalog: unknown products, other currencies, changed prices (LinesNotOrderableError)
   * and a total above MAX_ORDER_TOTAL (OrderTotalTooLargeError) are refused.
   */
  private async price(items: LineRequest[], currency: string) {
    const { lines, problems } = await priceLines(this.db, items, currency);
    if (problems.length > 0) throw new LinesNotOrderableError(problems);
    const total = orderTotal(lines);
    if (total > MAX_ORDER_TOTAL) throw new OrderTotalTooLargeError(total, MAX_ORDER_TOTAL);
    return lines;
  }

  /**
   * The order id is derived from the operation, so every retry of one request names the same order and, through
   * the workflow id, can start at most one saga: a retry after a lost answer, a 503, an abandoned key taken over, or
   * a key that expired all join the first order.
   */
  async place(
    order: PlaceOrder,
    context: CommandContext,
    settleWithinMs?: number
  ): Promise<{ orderId: string; order?: OrderRow }> {
    if (!canSeeCustomer(context.principal, order.customerId)) {
      throw new NotPermittedError('customers can only place orders for themselves');
    }
    const lines = await this.price(order.items, order.currency);
    const orderId = uuidv5(context.operationId, ORDER_ID_NAMESPACE);
    trace.getActiveSpan()?.setAttribute(ORDER_ID_ATTRIBUTE, orderId);
    const input = {
      orderId,
      customerId: order.customerId,
      lines,
      currency: order.currency,
      shippingAddress: order.shippingAddress,
      ...(order.billingAddress ? { billingAddress: order.billingAddress } : {}),
      payment: order.payment,
      shippingMethod: order.shippingMethod,
      ...(order.subscriptionId ? { subscriptionId: order.subscriptionId } : {}),
      causationId: context.causationId,
      ...(context.traceparent ? { traceparent: context.traceparent } : {}),
    };
    // The order exists from here on: if reading it back fails, the caller learns it was accepted, never an error that
    // would free the Idempotency-Key for a retry that places a second order.
    if (settleWithinMs) {
      // The caller waits for the outcome: the call that starts the saga also waits for it (Update-with-Start), so the
      // answer comes in one round trip, with no polling of the order's row. An order still on its way when the wait
      // runs out is answered like one not persisted yet (202 + Location), never with a half-way row.
      await placeOrderWorkflow(this.temporal, this.config, input, {
        updateId: context.operationId,
        waitMs: settleWithinMs,
      });
      const row = await this.queries.read(orderId).catch(() => undefined);
      const settled = row && SETTLED_STAGES.includes(row.stage as Stage);
      return { orderId, ...(settled ? { order: row } : {}) };
    }
    await startOrderWorkflow(this.temporal, this.config, input);
    const row = await this.queries.waitFor(orderId, this.config.ORDER_CREATE_WAIT).catch(() => undefined);
    return { orderId, ...(row ? { order: row } : {}) };
  }

  /** Applies the amendment through the order's workflow: the amended order, or undefined if not persisted yet. */
  async amend(orderId: string, change: AmendOrder, context: CommandContext): Promise<OrderRow | undefined> {
    const { order: current } = await this.queries.find(orderId, context.principal);
    if (change.items) {
      await this.price(change.items, current?.currency ?? (await this.queries.currencyOfRunning(orderId)));
    }
    await this.runUpdate(orderId, AmendRefusedError, async (handle) => {
      const update = await this.acceptedWithin(this.config.AMEND_WAIT, orderId, () =>
        handle.startUpdate(amendOrderUpdate, {
          args: [
            {
              requestId: context.operationId,
              ...(change.items
                ? { items: change.items.map(({ productId, quantity }) => ({ productId, quantity })) }
                : {}),
              ...(change.shippingAddress ? { shippingAddress: change.shippingAddress } : {}),
            },
          ],
          updateId: context.operationId,
          waitForStage: WorkflowUpdateStage.ACCEPTED,
        })
      );
      return update.result();
    });
    return (await this.queries.find(orderId, context.principal)).order;
  }

  /**
   * Cancels and waits up to CANCEL_WAIT for the compensations: the cancelled order, or undefined while they still run
   * (the caller polls). An order already cancelling is not cancelled twice.
   */
  async cancel(orderId: string, reason: CancellationReason, context: CommandContext): Promise<OrderRow | undefined> {
    const { order: current } = await this.queries.find(orderId, context.principal);
    if (context.principal.role === 'customer' && reason !== CancellationReason.CUSTOMER_REQUESTED) {
      throw new NotPermittedError('customers cancel with reason CUSTOMER_REQUESTED');
    }
    if (current?.stage === Stage.CANCELLED) return current;
    if (current?.stage === Stage.CANCELLING) return undefined;
    // After dispatch the catalog's answer is "start a return": say where (a delivered order's workflow is closed).
    const returns = `POST /v1/orders/${orderId}/returns`;
    if (current?.stage === Stage.SHIPPED || current?.stage === Stage.COMPLETED) {
      throw new CancelRefusedError(
        `the order was dispatched (stage ${current.stage}); start a return instead: ${returns}`
      );
    }
    // The workflow's refusal says "start a return"; the answer also names the route.
    const namingReturns = (error: unknown): never => {
      if (error instanceof CancelRefusedError && error.message.includes('start a return')) {
        throw new CancelRefusedError(`${error.message}: ${returns}`, { cause: error });
      }
      throw error;
    };
    let accepted = false;
    const cancelled = this.runUpdate(orderId, CancelRefusedError, async (handle) => {
      const update = await handle.startUpdate(cancelOrderUpdate, {
        args: [{ requestId: context.operationId, reason }],
        updateId: context.operationId,
        waitForStage: WorkflowUpdateStage.ACCEPTED,
      });
      accepted = true;
      return update.result();
    }).catch(namingReturns);
    // Left running past the deadline, the update still completes in the workflow; its outcome is read by polling.
    cancelled.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'waiting'>((resolve) => {
      timer = setTimeout(() => resolve('waiting'), this.config.CANCEL_WAIT);
    });
    try {
      if ((await Promise.race([cancelled, deadline])) === 'waiting') {
        // An update the workflow has not accepted yet (no worker polling, a server restarting) lives only in the
        // server's memory and can be lost; the same request as a signal is in the order's history once sent, so the
        // 202 promises nothing that could vanish. Both carry the request id: whichever runs second changes nothing.
        if (!accepted) await this.cancelBySignal(orderId, { requestId: context.operationId, reason });
        return undefined;
      }
    } finally {
      clearTimeout(timer);
    }
    return this.queries.waitFor(orderId, this.config.CANCEL_WAIT, [Stage.CANCELLED]);
  }

  /**
   * Runs an update on the order's workflow. Only the order's own refusal (an ApplicationFailure from its validator
   * or handler) and a closed workflow are final (`Refused`); an update that failed otherwise (timed out, cancelled)
   * may succeed when retried: UpdateInterruptedError.
   */
  private async runUpdate<T>(
    orderId: string,
    Refused: new (message: string) => AmendRefusedError | CancelRefusedError,
    update: (handle: WorkflowHandle) => Promise<T>
  ): Promise<T> {
    try {
      return await update(this.temporal.workflow.getHandle(orderWorkflowId(orderId)));
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) throw new Refused('the order is finished and can no longer change');
      if (error instanceof WorkflowUpdateFailedError) {
        if (error.cause instanceof ApplicationFailure) throw new Refused(error.cause.message);
        throw new UpdateInterruptedError(orderId, { cause: error });
      }
      throw error;
    }
  }

  /**
   * Starts an update and waits up to `waitMs` for the workflow to accept it. With no worker taking it the wait would
   * have no end; past it the caller is told to retry (UpdateInterruptedError, 503), and the retry is the same update.
   */
  private async acceptedWithin<T>(waitMs: number, orderId: string, start: () => Promise<T>): Promise<T> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), waitMs);
    try {
      return await this.temporal.withAbortSignal(abort.signal, start);
    } catch (error) {
      if (abort.signal.aborted) throw new UpdateInterruptedError(orderId, { cause: error });
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  private async cancelBySignal(orderId: string, request: CancelOrderInput): Promise<void> {
    try {
      await this.temporal.workflow.getHandle(orderWorkflowId(orderId)).signal(cancelOrderSignal, request);
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) throw new OrderFinishedError(orderId);
      throw error;
    }
  }

  /**
   * A carrier update: the order's workflow decides what it means (dispatch, delivery, trouble). Once the workflow is
   * closed, an update the shipment already shows changes nothing and is answered as such (`accepted: false`): it is
   * a PUT, and the usual way to get one is a retry whose first attempt delivered the order's last parcel and lost
   * its answer. Any other update to a finished order is a conflict.
   */
  async reportShipmentStatus(shipmentId: string, status: ShipmentUpdateStatus, eventId: string) {
    const shipment = await this.db.shipment.findUnique({ where: { id: shipmentId } });
    if (!shipment) throw new ShipmentNotFoundError(shipmentId);
    const answer = { shipmentId, orderId: shipment.orderId, status };
    try {
      await this.temporal.workflow
        .getHandle(orderWorkflowId(shipment.orderId))
        .signal(shipmentUpdateSignal, { eventId, status, shipmentId });
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
      // Read again: the row found above may predate the update that closed the order.
      const now = await this.db.shipment.findUnique({ where: { id: shipmentId }, select: { status: true } });
      if (now?.status === shipmentStatusOf(status)) return { ...answer, accepted: false };
      throw new OrderFinishedError(shipment.orderId);
    }
    return { ...answer, accepted: true };
  }
}
