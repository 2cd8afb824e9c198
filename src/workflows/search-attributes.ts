import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Custom search attributes operators filter orders by in the Temporal Web UI; registered by `npm run dev`. */
export const OrderStatusKey = defineSearchAttributeKey('OrderStatus', SearchAttributeType.KEYWORD);
export const OrderStageKey = defineSearchAttributeKey('OrderStage', SearchAttributeType.KEYWORD);
export const CustomerIdKey = defineSearchAttributeKey('CustomerId', SearchAttributeType.KEYWORD);
export const OrderTotalKey = defineSearchAttributeKey('OrderTotal', SearchAttributeType.INT);
export const NeedsAttentionKey = defineSearchAttributeKey('NeedsAttention', SearchAttributeType.BOOL);

export const ORDER_SEARCH_ATTRIBUTES = [OrderStatusKey, OrderStageKey, CustomerIdKey, OrderTotalKey, NeedsAttentionKey];
