import type { Client } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure, WorkflowIdConflictPolicy, WorkflowIdReusePolicy } from '@temporalio/common';
import { v5 as uuidv5 } from 'uuid';
import type { Config } from '../config/config.js';
import type { Db } from '../db/client.js';
import type { ReturnCondition, ReturnDecision } from '../domain/returns.js';
import { ReturnStatus } from '../domain/returns.js';
import type { OutboxWriter } from '../events/outbox.js';
import type { RecordedReturn } from '../returns/records.js';
import { requestReturn, ReturnNotAllowedError, ReturnQuantityError } from '../returns/records.js';
import { RETURN_WORKFLOW_TYPE, returnWorkflowId, settleReturnUpdate } from '../workflows/return-messages.js';
import { CustomerIdKey, NeedsAttentionKey } from '../workflows/search-attributes.js';
import type { Principal } from './auth.js';
import { ApiError, ErrorCode } from './errors.js';
import { toReturnDto } from './order-dto.js';
import type { OrderService, RequestContext } from './order-service.js';
import type { Return } from './schemas.js';

/** The UUIDv5 namespace of return ids derived from operation ids. Never change it: retries would fork returns. */
const RETURN_ID_NAMESPACE = '6d0b8f1e-3c2a-4e7b-9f15-8a4c2d7e1b90';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Returns after dispatch: the API records the request and starts its ReturnWorkflow, which does the rest. */
export class ReturnService {
  constructor(
    private readonly db: Db,
    private readonly outbox: OutboxWriter,
    private readonly temporal: Client,
    private readonly config: Config,
    private readonly orders: OrderService
  ) {}

  /**
   * The return id is derived from the operation (the caller's Idempotency-Key, or a random id), like an order's: a
   * retry after a lost answer finds the return it recorded and (re)starts the same workflow, never a second return.
   */
  async request(
    orderId: string,
    body: { items: { productId: string; quantity: number }[]; reason: string },
    context: RequestContext & { operationId: string }
  ): Promise<Return> {
    await this.orders.getOrder(orderId, context.principal);
    const returnId = uuidv5(context.operationId, RETURN_ID_NAMESPACE);
    let recorded: RecordedReturn;
    try {
      recorded = await requestReturn(this.db, this.outbox, {
        returnId,
        orderId,
        items: body.items,
        reason: body.reason,
        windowMs: this.config.RETURN_WINDOW,
        causationId: context.requestId,
        ...(context.traceparent ? { traceparent: context.traceparent } : {}),
      });
    } catch (error) {
      if (error instanceof ReturnNotAllowedError) throw ApiError.conflict(ErrorCode.RETURN_NOT_ALLOWED, error.message);
      if (error instanceof ReturnQuantityError) {
        throw ApiError.validation(
          error.message,
          error.problems.map(({ index, field, message }) => ({ field: `body.items.${index}.${field}`, message }))
        );
      }
      throw error;
    }
    await this.start(recorded, context);
    return this.get(returnId);
  }

  async list(orderId: string, principal: Principal): Promise<{ orderId: string; returns: Return[] }> {
    const order = await this.orders.getOrder(orderId, principal);
    return { orderId, returns: order.returns };
  }

  /**
   * The warehouse's decision, applied by the return's workflow (started again if its start was lost). Waits up to
   * CANCEL_WAIT for the refund, then answers with the return as it is (`refundedAmount` shows whether it went through).
   */
  async settle(
    returnId: string,
    decision: { status: ReturnDecision; condition?: ReturnCondition | undefined },
    context: RequestContext & { operationId: string }
  ): Promise<Return> {
    const row = await this.db.return.findUnique({ where: { id: returnId }, include: { items: true } });
    if (!row) throw ApiError.notFound(`return ${returnId}`);
    if (row.status !== ReturnStatus.REQUESTED) {
      const same =
        row.status.toLowerCase() === decision.status &&
        (decision.status === 'rejected' || row.condition === (decision.condition ?? 'resellable'));
      if (!same) {
        throw ApiError.conflict(ErrorCode.RETURN_ALREADY_SETTLED, `the return was already ${row.status.toLowerCase()}`);
      }
    } else {
      await this.start(await this.recorded(returnId), context);
      try {
        await this.temporal.workflow.getHandle(returnWorkflowId(returnId)).executeUpdate(settleReturnUpdate, {
          args: [
            {
              requestId: context.operationId,
              status: decision.status,
              ...(decision.condition ? { condition: decision.condition } : {}),
            },
          ],
          updateId: context.operationId,
        });
      } catch (error) {
        if (error instanceof WorkflowUpdateFailedError && error.cause instanceof ApplicationFailure) {
          throw ApiError.conflict(ErrorCode.RETURN_ALREADY_SETTLED, error.cause.message);
        }
        if (error instanceof WorkflowUpdateFailedError) throw ApiError.unavailable();
        throw error;
      }
    }
    const until = Date.now() + this.config.CANCEL_WAIT;
    for (;;) {
      const current = await this.get(returnId);
      const settled = current.status === 'rejected' || current.refundedAmount === current.refundAmount;
      if (settled || Date.now() >= until) return current;
      await sleep(50);
    }
  }

  private async get(returnId: string): Promise<Return> {
    return toReturnDto(
      await this.db.return.findUniqueOrThrow({
        where: { id: returnId },
        include: { items: { orderBy: { productId: 'asc' } } },
      })
    );
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
      lines: row.items.map(({ productId, quantity, unitPrice }) => ({ productId, quantity, unitPrice })),
      refundAmount: row.refundAmount,
      captureId: row.order.payments[0]!.id,
      paymentMethod: row.order.paymentMethod,
    };
  }

  /** Once per return id, ever: a second start joins the running workflow or finds the closed one. */
  private async start(recorded: RecordedReturn, context: RequestContext): Promise<void> {
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
            causationId: context.requestId,
            ...(context.traceparent ? { traceparent: context.traceparent } : {}),
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
