import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  condition,
  setHandler,
} from '@temporalio/workflow';
import { SETTLED_STAGES, Stage } from '../domain/order.js';
import { adoptedChanges } from './changes.js';
import type { AmendOrderInput, CancelOrderInput, OrderView, OrderWorkflowInput } from './messages.js';
import {
  amendOrderSignal,
  amendOrderUpdate,
  awaitOutcomeUpdate,
  cancelOrderSignal,
  cancelOrderUpdate,
  getOrderQuery,
  restockNoticeSignal,
  retryCompensationSignal,
  retryCompensationUpdate,
  shipmentUpdateSignal,
} from './messages.js';
import { amendmentRejected, cancellationRejected } from './failures.js';
import { OrderProcess } from './order-process.js';

/**
 * One checkout, from placing the order to delivery or cancellation. See SPEC section 2 for the lifecycle; every
 * message is accepted as an Update (the API's path: the caller learns the outcome) and as a Signal of the same name
 * (so operators can act from the Web UI or CLI, where an invalid request is recorded as rejected).
 */
export async function OrderWorkflow(input: OrderWorkflowInput): Promise<OrderView> {
  const changes = adoptedChanges();
  const order = new OrderProcess(input, changes);
  const { record, amendments, cancellation, carrier, operator } = order;
  // With `compensate-any-failure` no step or handler is interrupted by a workflow cancellation: it becomes a
  // cancellation request that the main flow honours at its next step boundary, like the cancelOrder update.
  const shielded = <T>(work: () => Promise<T>): Promise<T> =>
    changes.compensateAnyFailure ? CancellationScope.nonCancellable(work) : work();
  // Taken before the handlers below are registered: registering one runs it at once on messages already buffered.
  const created = changes.createOrderLocked ? shielded(() => order.createLocked()) : undefined;

  setHandler(getOrderQuery, () => record.view());
  // Issues no command, so old runs replay unchanged; every stage it waits for is set once its row is committed.
  setHandler(awaitOutcomeUpdate, async () => {
    await condition(() => SETTLED_STAGES.includes(record.state.stage));
    return record.view();
  });

  setHandler(amendOrderUpdate, (request) => shielded(() => amendments.amend(request)), {
    validator: (request: AmendOrderInput) => {
      const reason = amendments.refusal(request);
      if (reason) throw amendmentRejected(reason);
    },
  });
  setHandler(amendOrderSignal, async (request: AmendOrderInput) => {
    if (changes.messagesNeverFail) return shielded(() => amendments.bySignal(request));
    const reason = amendments.refusal(request);
    if (reason) return record.reject('amendOrder', request.requestId, reason);
    try {
      await amendments.amend(request);
    } catch (error) {
      if (!(error instanceof ApplicationFailure)) throw error;
      record.reject('amendOrder', request.requestId, error.message);
    }
  });

  setHandler(cancelOrderUpdate, (request) => shielded(() => cancellation.request(request)), {
    validator: (request: CancelOrderInput) => {
      const reason = cancellation.refusal(request);
      if (reason) throw cancellationRejected(reason);
    },
  });
  setHandler(cancelOrderSignal, async (request: CancelOrderInput) => {
    if (changes.messagesNeverFail) return cancellation.bySignal(request);
    const reason = cancellation.refusal(request);
    if (reason) return record.reject('cancelOrder', request.requestId, reason);
    await cancellation.request(request);
  });

  setHandler(shipmentUpdateSignal, (update) => carrier.receive(update));
  setHandler(restockNoticeSignal, () => record.noticeRestock());
  setHandler(retryCompensationUpdate, () => operator.retry());
  setHandler(retryCompensationSignal, () => {
    operator.retry();
  });

  if (!changes.compensateAnyFailure) {
    const result = await order.run(created);
    // Callers of amend/cancel updates still waiting get their answer before the run closes.
    await condition(allHandlersFinished);
    return result;
  }
  let workflowCancel: Error | undefined;
  CancellationScope.current().cancelRequested.catch((error: unknown) => {
    workflowCancel = error instanceof Error ? error : new CancelledFailure(String(error));
    cancellation.workflowCancelRequested();
  });
  const result = await CancellationScope.nonCancellable(async () => {
    const view = await order.run(created);
    await condition(allHandlersFinished);
    return view;
  });
  // An honoured workflow cancellation closes the run as Canceled, as the operator asked; the order is CANCELLED.
  if (workflowCancel && result.stage === Stage.CANCELLED) throw workflowCancel;
  return result;
}
