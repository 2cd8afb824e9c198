import type { Client } from '@temporalio/client';
import { median } from './stats.js';

/** What one workflow's history holds, by event kind (names derived from the set `...EventAttributes` field). */
export interface HistoryShape {
  events: number;
  /** Regular activities scheduled, by type, in order. */
  activities: string[];
  /** Local activities (MarkerRecorded events of the local activity kind; patch markers are not counted). */
  localActivities: number;
  /** For each local activity, the index of the regular activity scheduled before it (the floor's `localAfter`). */
  localAfter: number[];
  workflowTasks: number;
  searchAttributeUpserts: number;
  byType: Record<string, number>;
}

export interface OrderHistory {
  /** Up to and including the completion of the confirmOrder activity (or its local activity marker). */
  toConfirmed: HistoryShape;
  /** The whole history once the workflow parked (stage FULFILLING, waiting for dispatch). */
  parked: HistoryShape;
}

type HistoryEvent = Record<string, unknown>;

function kind(event: HistoryEvent): string {
  for (const [key, value] of Object.entries(event)) {
    if (key.endsWith('EventAttributes') && value) {
      const name = key.slice(0, -'EventAttributes'.length);
      return name.charAt(0).toUpperCase() + name.slice(1);
    }
  }
  return 'Unknown';
}

/** The SDK core records a local activity as marker `core_local_activity`, a patched() call as `core_patch`. */
function isLocalActivityMarker(event: HistoryEvent): boolean {
  const attributes = event.markerRecordedEventAttributes as { markerName?: string } | undefined;
  return attributes?.markerName === 'core_local_activity';
}

function shape(events: HistoryEvent[]): HistoryShape {
  const result: HistoryShape = {
    events: events.length,
    activities: [],
    localActivities: 0,
    localAfter: [],
    workflowTasks: 0,
    searchAttributeUpserts: 0,
    byType: {},
  };
  for (const event of events) {
    const type = kind(event);
    result.byType[type] = (result.byType[type] ?? 0) + 1;
    if (type === 'ActivityTaskScheduled') {
      const attributes = event.activityTaskScheduledEventAttributes as { activityType?: { name?: string } };
      result.activities.push(attributes.activityType?.name ?? '?');
    } else if (type === 'MarkerRecorded' && isLocalActivityMarker(event)) {
      result.localActivities += 1;
      result.localAfter.push(result.activities.length - 1);
    } else if (type === 'WorkflowTaskCompleted') {
      result.workflowTasks += 1;
    } else if (type === 'UpsertWorkflowSearchAttributes') {
      result.searchAttributeUpserts += 1;
    }
  }
  return result;
}

async function events(client: Client, workflowId: string): Promise<HistoryEvent[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []) as unknown as HistoryEvent[];
}

/** The activity type a local activity's marker names: core writes its data as plain JSON, not through the codec. */
function localActivityType(event: HistoryEvent): string | undefined {
  const attributes = event.markerRecordedEventAttributes as
    { details?: Record<string, { payloads?: { data?: Uint8Array | null }[] | null } | null> | null } | undefined;
  const data = attributes?.details?.data?.payloads?.[0]?.data;
  if (!data) return undefined;
  try {
    return (JSON.parse(Buffer.from(data).toString('utf8')) as { activity_type?: string }).activity_type;
  } catch {
    return undefined;
  }
}

/**
 * Splits an order's history at the completion of its confirmOrder activity, or at its marker when it ran as a local
 * activity (patch `local-checkout-steps`). The floors then announce the confirmation in the regular activity before
 * it: a dispatch hop and a local activity earlier than the order confirms, so they are a little low.
 */
export async function orderHistory(client: Client, workflowId: string): Promise<OrderHistory> {
  const all = await events(client, workflowId);
  let confirmScheduled = false;
  let cut = all.length;
  for (const [index, event] of all.entries()) {
    const type = kind(event);
    if (isLocalActivityMarker(event) && localActivityType(event) === 'confirmOrder') {
      cut = index + 1;
      break;
    }
    if (type === 'ActivityTaskScheduled') {
      const attributes = event.activityTaskScheduledEventAttributes as { activityType?: { name?: string } };
      if (attributes.activityType?.name === 'confirmOrder') confirmScheduled = true;
    } else if (confirmScheduled && type === 'ActivityTaskCompleted') {
      cut = index + 1;
      break;
    }
  }
  return { toConfirmed: shape(all.slice(0, cut)), parked: shape(all) };
}

export async function workflowShape(client: Client, workflowId: string): Promise<HistoryShape> {
  return shape(await events(client, workflowId));
}

export interface DescribeSample {
  sampled: number;
  historyLengthMedian: number;
  historySizeBytesMedian: number;
  stateTransitionsMedian: number;
}

/** describe() of a few workflows: history length and size, and the server's state transition count (each one a persistence write). */
export async function describeSample(client: Client, workflowIds: string[]): Promise<DescribeSample> {
  const lengths: number[] = [];
  const sizes: number[] = [];
  const transitions: number[] = [];
  for (const workflowId of workflowIds) {
    const description = await client.workflow.getHandle(workflowId).describe();
    lengths.push(description.historyLength);
    sizes.push(description.historySize ?? Number.NaN);
    transitions.push(Number(description.raw.workflowExecutionInfo?.stateTransitionCount ?? Number.NaN));
  }
  return {
    sampled: workflowIds.length,
    historyLengthMedian: median(lengths),
    historySizeBytesMedian: median(sizes),
    stateTransitionsMedian: median(transitions),
  };
}
