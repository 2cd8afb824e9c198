import {
  allHandlersFinished,
  condition,
  log,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { ReturnStatus } from '../domain/returns.js';
import type { ReturnFacts } from '../events/return-events.js';
import type { ReturnView, ReturnWorkflowInput, SettleReturnInput } from './return-messages.js';
import {
  getReturnQuery,
  retryReturnSignal,
  retryReturnUpdate,
  settleReturnSignal,
  settleReturnUpdate,
} from './return-messages.js';
import { NeedsAttentionKey } from './search-attributes.js';

// Database steps: fenced on the return and idempotent, so they retry until they go through.
const steps = proxyActivities<Activities>({
  startToCloseTimeout: '10s',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '30s' },
});

const DECISIONS: readonly string[] = ['received', 'rejected'];
const CONDITIONS: readonly string[] = ['resellable', 'damaged'];

/** Why a decision cannot be applied, or undefined; the same decision sent twice is no conflict. */
function refusal(request: SettleReturnInput, decided: SettleReturnInput | undefined): string | undefined {
  if (typeof request !== 'object' || request === null || !DECISIONS.includes(request.status)) {
    return 'status must be received or rejected';
  }
  if (request.condition !== undefined && !CONDITIONS.includes(request.condition)) {
    return 'condition must be resellable or damaged';
  }
  if (!decided) return undefined;
  const same =
    decided.status === request.status && (decided.condition ?? 'resellable') === (request.condition ?? 'resellable');
  return same
    ? undefined
    : `the return was already ${decided.status}${decided.condition ? ` (${decided.condition})` : ''}`;
}

/**
 * One return after dispatch, from the request (recorded by the API, which starts this workflow) to the warehouse's
 * decision: received (resellable units restocked, the returned lines' captured amount refunded) or rejected (no
 * refund). A workflow of its own rather than a branch of OrderWorkflow: the order's workflow closes at delivery,
 * while returns come for RETURN_WINDOW after it, several per order, each with its own life; and OrderWorkflow's
 * recorded histories stay untouched. Workflow id `return-<returnId>`, so a retried start finds the same run.
 */
export async function ReturnWorkflow(input: ReturnWorkflowInput): Promise<ReturnView> {
  const state: ReturnView = {
    returnId: input.returnId,
    orderId: input.orderId,
    status: ReturnStatus.REQUESTED,
    refundAmount: input.refundAmount,
    refundedAmount: 0,
    needsAttention: false,
  };
  const facts: ReturnFacts = {
    returnId: input.returnId,
    orderId: input.orderId,
    customerId: input.customerId,
    currency: input.currency,
    lines: input.lines,
    refundAmount: input.refundAmount,
  };
  let decision: SettleReturnInput | undefined;
  let operatorRetries = 0;
  let seq = 0;
  let cause = input.causationId;
  const view = (): ReturnView => ({ ...state });
  const next = () => ({
    orderId: input.orderId,
    returnId: input.returnId,
    seq: ++seq,
    causationId: cause,
    ...(input.traceparent ? { traceparent: input.traceparent } : {}),
  });
  const show = () => {
    upsertSearchAttributes([{ key: NeedsAttentionKey, value: state.needsAttention }]);
    setCurrentDetails(
      [
        `Return **${state.status}** of order ${input.orderId}: refund ${state.refundedAmount}/${state.refundAmount} ${input.currency} minor units`,
        ...input.lines.map((line) => `- ${line.quantity} x ${line.productId}`),
        state.needsAttention ? `**Needs attention:** ${state.attentionReason}` : '',
      ]
        .filter(Boolean)
        .join('\n')
    );
  };
  const decide = (request: SettleReturnInput) => {
    if (decision) return;
    decision = request;
    cause = request.requestId;
  };

  setHandler(getReturnQuery, view);
  setHandler(
    settleReturnUpdate,
    async (request) => {
      decide(request);
      await condition(() => state.status !== ReturnStatus.REQUESTED);
      return view();
    },
    {
      validator: (request: SettleReturnInput) => {
        const reason = refusal(request, decision);
        if (reason) throw new Error(reason);
      },
    }
  );
  setHandler(settleReturnSignal, (request: SettleReturnInput) => {
    const reason = refusal(request, decision);
    if (reason) log.warn('return decision ignored', { reason });
    else decide(request);
  });
  const retry = () => {
    operatorRetries += 1;
    return view();
  };
  setHandler(retryReturnUpdate, retry);
  setHandler(retryReturnSignal, () => {
    retry();
  });

  show();
  await condition(() => decision !== undefined);
  const { status, condition: goods } = decision!;
  if (status === 'rejected') {
    await steps.rejectReturn({ ...next(), facts });
    state.status = ReturnStatus.REJECTED;
  } else {
    const received = goods ?? 'resellable';
    await steps.receiveReturn({ ...next(), facts, condition: received });
    state.status = ReturnStatus.RECEIVED;
    state.condition = received;
    show();
    await refund();
  }
  show();
  await condition(allHandlersFinished);
  return view();

  /** Refunds until it goes through; after COMPENSATION_MAX_ATTEMPTS it flags the return and waits for an operator. */
  async function refund(): Promise<void> {
    if (input.refundAmount === 0) return;
    const payments = proxyActivities<Activities>({
      startToCloseTimeout: '15s',
      retry: {
        initialInterval: '1s',
        backoffCoefficient: 2,
        maximumInterval: '30s',
        maximumAttempts: input.maxAttempts,
      },
    });
    // One idempotency key for every attempt, so the gateway refunds once. Temporal's retries reuse the input (one
    // step seq); after an operator's retry the step takes a new seq, since flagging the return took seqs after it.
    const request = {
      idempotencyKey: `${input.orderId}:return:${input.returnId}:refund`,
      targetPaymentId: input.captureId,
      customerId: input.customerId,
      amount: input.refundAmount,
      currency: input.currency,
      method: input.paymentMethod,
      reason: `return ${input.returnId}`,
    };
    for (;;) {
      try {
        await payments.refundReturn({ ...request, ...next() });
        break;
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        log.error('the refund keeps failing; waiting for an operator', { error: message });
        const retriesBefore = operatorRetries;
        await flag(true, `refund failed: ${message}`);
        await condition(() => operatorRetries > retriesBefore);
      }
    }
    state.refundedAmount = input.refundAmount;
    if (state.needsAttention) await flag(false);
  }

  async function flag(needsAttention: boolean, reason?: string): Promise<void> {
    await steps.setReturnAttention({ ...next(), needsAttention });
    state.needsAttention = needsAttention;
    state.attentionReason = reason;
    show();
  }
}
