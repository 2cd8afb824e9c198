import type { Client } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure, WorkflowIdConflictPolicy, WorkflowIdReusePolicy } from '@temporalio/common';
import { v5 as uuidv5 } from 'uuid';
import type { Config } from '../config/config.js';
import type { Db } from '../db/client.js';
import type { Causation } from '../domain/causation.js';
import { fromStoredMoney } from '../domain/money.js';
import type { Principal } from '../domain/principal.js';
import { canSeeCustomer } from '../domain/principal.js';
import type { ReturnCondition, ReturnDecision } from '../domain/returns.js';
import { ReturnStatus } from '../domain/returns.js';
import type { OutboxWriter } from '../events/outbox.js';
import type { Prisma } from '../generated/prisma/client.js';
import { RETURN_WORKFLOW_TYPE, returnWorkflowId, settleReturnUpdate } from '../workflows/return-messages.js';
import { CustomerIdKey, NeedsAttentionKey } from '../workflows/search-attributes.js';
import { ReturnAlreadySettledError, ReturnNotFoundError, ReturnUpdateInterruptedError } from './errors.js';
import type { RecordedReturn } from './records.js';
import { requestReturn } from './records.js';

/** The UUIDv5 namespace of return ids derived from operation ids. Never change it: retries would fork returns. */
const RETURN_ID_NAMESPACE = '6d0b8f1e-3c2a-4e7b-9f15-8a4c2d7e1b90';

const RETURN_INCLUDE = { items: { orderBy: { productId: 'asc' } } } satisfies Prisma.ReturnInclude;
export type ReturnRow = Prisma.ReturnGetPayload<{ include: typeof RETURN_INCLUDE }>;

/** Who asks, and the operation (the caller's Idempotency-Key, or a random id) a return id is derived from. */
export interface ReturnCommandContext extends Causation {
  principal: Principal;
  operationId: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Returns after dispatch: records the request and starts its ReturnWorkflow, which does the rest. */
export class ReturnCommands {
  constructor(
    private readonly db: Db,
    private readonly outbox: OutboxWriter,
    private readonly temporal: Client,
    private readonly config: Config
  ) {}

  /**
   * The return id is derived from the operation, like an order's: a retry after a lost answer finds the return it
   * recorded and (re)starts the same workflow, never a second return.
   */
  async request(
    orderId: string,
    body: { items: { productId: string; quantity: number }[]; reason: string },
    context: ReturnCommandContext
  ): Promise<ReturnRow> {
    await this.visibleOrder(orderId, context.principal);
    const returnId = uuidv5(context.operationId, RETURN_ID_NAMESPACE);
    const recorded = await requestReturn(this.db, this.outbox, {
      returnId,
      orderId,
      items: body.items,
      reason: body.reason,
      windowMs: this.config.RETURN_WINDOW,
      causationId: context.causationId,
      ...(context.traceparent ? { traceparent: context.traceparent } : {}),
    });
    await this.start(recorded, context);
    return this.get(returnId);
  }

  async list(orderId: string, principal: Principal): Promise<ReturnRow[]> {
    await this.visibleOrder(orderId, principal);
    return this.db.return.findMany({
      where: { orderId },
      include: RETURN_INCLUDE,
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    });
  }

  /**
   * The warehouse's decision, applied by the return's workflow (started again if its start was lost). Waits up to
   * CANCEL_WAIT for the refund, then answers with the return as it is (`refundedAmount` shows whether it went through).
   */
  async settle(
    returnId: string,
    decision: { status: ReturnDecision; condition?: ReturnCondition | undefined },
    context: ReturnCommandContext
  ): Promise<ReturnRow> {
    const row = await this.db.return.findUnique({ where: { id: returnId } });
    if (!row) throw new ReturnNotFoundError({ returnId });
    if (row.status !== ReturnStatus.REQUESTED) {
      const same =
        row.status.toLowerCase() === decision.status &&
        (decision.status === 'rejected' || row.condition === (decision.condition ?? 'resellable'));
      if (!same) throw new ReturnAlreadySettledError(`the return was already ${row.status.toLowerCase()}`);
    } else {
      await this.start(await this.recorded(returnId), context);
      await this.decide(returnId, decision, context.operationId);
    }
    const until = Date.now() + this.config.CANCEL_WAIT;
    for (;;) {
      const current = await this.get(returnId);
      const settled = current.status === ReturnStatus.REJECTED || current.refundedAmount === current.refundAmount;
      if (settled || Date.now() >= until) return current;
      await sleep(50);
    }
  }

  private async decide(
    returnId: string,
    decision: { status: ReturnDecision; condition?: ReturnCondition | undefined },
    operationId: string
  ): Promise<void> {
    try {
      await this.temporal.workflow.getHandle(returnWorkflowId(returnId)).executeUpdate(settleReturnUpdate, {
        args: [
          {
            requestId: operationId,
            status: decision.status,
            ...(decision.condition ? { condition: decision.condition } : {}),
          },
        ],
        updateId: operationId,
      });
    } catch (error) {
      if (error instanceof WorkflowUpdateFailedError && error.cause instanceof ApplicationFailure) {
        throw new ReturnAlreadySettledError(error.cause.message, { cause: error });
      }
      if (error instanceof WorkflowUpdateFailedError) {
        throw new ReturnUpdateInterruptedError('the decision did not reach the return', { cause: error });
      }
      throw error;
    }
  }

  /** A missing order and another customer's read the same, so a customer cannot probe for orders. */
  private async visibleOrder(orderId: string, principal: Principal): Promise<void> {
    const order = await this.db.order.findUnique({ where: { id: orderId }, select: { customerId: true } });
    if (!order || !canSeeCustomer(principal, order.customerId)) throw new ReturnNotFoundError({ orderId });
  }

  private async get(returnId: string): Promise<ReturnRow> {
    return this.db.return.findUniqueOrThrow({ where: { id: returnId }, include: RETURN_INCLUDE });
  }

  /** What the workflow starts with, read again from the return and its order. */
  private async recorded(returnId: string): Promise<RecordedReturn> {
    const row = await this.db.return.findUniqueOrThrow({
      where: { id: returnId },
      include: {
        items: true,
        order: { include: { payments: { where: { kind: 'CAPTURE', status: 'SUCCEEDED' } } } },
      },
    });
    return {
      returnId,
      orderId: row.orderId,
      customerId: row.order.customerId,
      currency: row.order.currency,
      lines: row.items.map(({ productId, quantity, unitPrice }) => ({
        productId,
        quantity,
        unitPrice: fromStoredMoney(unitPrice),
      })),
      refundAmount: fromStoredMoney(row.refundAmount),
      captureId: row.order.payments[0]!.id,
      paymentMethod: row.order.paymentMethod,
    };
  }

  /** Once per return id, ever: a second start joins the running workflow or finds the closed one. */
  private async start(recorded: RecordedReturn, cause: Causation): Promise<void> {
    const { returnId, orderId, customerId, lines, refundAmount, currency } = recorded;
    await this.temporal.workflow
      .start(RETURN_WORKFLOW_TYPE, {
        workflowId: returnWorkflowId(returnId),
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        taskQueue: this.config.TEMPORAL_TASK_QUEUE,
        args: [
          {
            returnId,
            orderId,
            customerId,
            currency,
            paymentMethod: recorded.paymentMethod,
            captureId: recorded.captureId,
            lines,
            refundAmount,
            maxAttempts: this.config.COMPENSATION_MAX_ATTEMPTS,
            causationId: cause.causationId,
            ...(cause.traceparent ? { traceparent: cause.traceparent } : {}),
          },
        ],
        typedSearchAttributes: [
          { key: CustomerIdKey, value: customerId },
          { key: NeedsAttentionKey, value: false },
        ],
        staticSummary: `Return ${returnId} of order ${orderId}: ${refundAmount} ${currency} minor units`,
      })
      .catch((error: unknown) => {
        // The return's workflow ran and closed already: it is this return, not a reason to start another.
        if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      });
  }
}
