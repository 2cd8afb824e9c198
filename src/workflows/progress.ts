import type { SearchAttributeUpdatePair } from '@temporalio/common';
import { setCurrentDetails, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { OrderView } from './messages.js';
import { CustomerIdKey, NeedsAttentionKey, OrderStageKey, OrderStatusKey, OrderTotalKey } from './search-attributes.js';

/**
 * Keeps the Web UI current: search attributes to find the order, details to read it at a glance. With `changesOnly`
 * (`upsert-changes-only`) only the attributes that differ from the run's current ones are upserted, and nothing when
 * none does: the API starts the run with the order's initial attributes, and each upsert is a visibility write.
 */
export function publishProgress(state: OrderView, changesOnly: boolean): void {
  const attributes: SearchAttributeUpdatePair[] = [
    { key: OrderStatusKey, value: state.status },
    { key: OrderStageKey, value: state.stage },
    { key: CustomerIdKey, value: state.customerId },
    { key: OrderTotalKey, value: state.totalAmount },
    { key: NeedsAttentionKey, value: state.needsAttention },
  ];
  const current = workflowInfo().typedSearchAttributes;
  const changed = changesOnly ? attributes.filter(({ key, value }) => current.get(key) !== value) : attributes;
  if (changed.length > 0) upsertSearchAttributes(changed);
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
