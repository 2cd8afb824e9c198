import { setCurrentDetails, upsertSearchAttributes } from '@temporalio/workflow';
import type { OrderView } from './messages.js';
import { CustomerIdKey, NeedsAttentionKey, OrderStageKey, OrderStatusKey, OrderTotalKey } from './search-attributes.js';

/** Keeps the Web UI current: search attributes to find the order, details to read it at a glance. */
export function publishProgress(state: OrderView): void {
  upsertSearchAttributes([
    { key: OrderStatusKey, value: state.status },
    { key: OrderStageKey, value: state.stage },
    { key: CustomerIdKey, value: state.customerId },
    { key: OrderTotalKey, value: state.totalAmount },
    { key: NeedsAttentionKey, value: state.needsAttention },
  ]);
  const lines = state.lines.map((line) => `- ${line.quantity} x ${line.sku} (${line.name})`).join('\n');
  setCurrentDetails(
    [
      `**${state.stage}** (${state.status}), revision ${state.revision}`,
      `Total ${state.totalAmount} ${state.currency} minor units, customer ${state.customerId}`,
      lines,
      state.needsAttention ? `**Needs attention:** ${state.attentionReason}` : '',
      state.cancellationReason ? `Cancellation reason: ${state.cancellationReason}` : '',
    ]
      .filter(Boolean)
      .join('\n')
  );
}
