import { patched } from '@temporalio/workflow';

/**
 * Changes to the commands OrderWorkflow issues, each guarded by a patch (README, "Changing the workflow"). They are
 * decided once, when a run starts: a run begun on older code replays and finishes on its old path, a new run records
 * its markers (the baseline's and any later change's) in its first workflow task and takes every new path. Never
 * rename an id.
 */
export const WorkflowChange = {
  /** Any failure of the main flow, and a workflow cancellation, compensate; steps are never interrupted. */
  compensateAnyFailure: 'compensate-any-failure',
  /** Signal handlers record whatever they cannot apply as a rejected request instead of failing the run. */
  messagesNeverFail: 'messages-never-fail',
  /** A replacement authorization becomes the order's only once the old one is voided. */
  paymentAfterMoneyMoved: 'payment-after-money-moved',
  /** A carrier dispatch update already queued beats a later cancellation (validator and signal). */
  queuedDispatchWins: 'queued-dispatch-wins',
  /** Restock notices arriving during an attempt are kept; a backordered order re-checks once it is visible. */
  restockNoticeKept: 'restock-notice-kept',
  /** Forward steps flag NeedsAttention after COMPENSATION_MAX_ATTEMPTS tries and keep retrying. */
  forwardStepsFlagged: 'forward-steps-flagged',
  /** Flags cleared when what raised them is resolved; honest cancel answers; bounded request memory. */
  honestAttention: 'honest-attention',
  /** Shorter start-to-close timeouts, so an attempt lost with its worker is retried within seconds. */
  shorterTimeouts: 'shorter-timeouts',
  /** A line may take stock from several warehouses; one parcel per warehouse, each captured as it leaves. */
  splitFulfilment: 'split-fulfilment',
  /**
   * Amendments are accepted in FULFILLING until the carrier reports dispatch (or it is queued); they replace the
   * shipment request (CancelShipment + CreateShipment), and updates of the replaced shipment are ignored. With
   * `split-fulfilment` too every parcel still requested is replaced (`replaceParcels`); a run recorded with only one
   * of the two (each was built beside the other) replays with the other false, as a marker absent from a history
   * reads on replay, and takes the path it recorded.
   */
  amendUntilDispatch: 'amend-until-dispatch',
  /**
   * A forward step that keeps failing is flagged without a step number of its own: the flag used to take the next
   * number, so the step's own retry, fenced by its older number, went through at the gateway and recorded nothing.
   */
  flagKeepsStepFence: 'flag-keeps-step-fence',
  /**
   * createOrder and confirmOrder run as local activities: four dispatch hops fewer before an order is confirmed. (Not
   * `fast-checkout`: that id was merged once with the e-mail moved after the confirmation and reverted; a run that
   * recorded it took another path than this one.)
   */
  localCheckoutSteps: 'local-checkout-steps',
  /**
   * The order is created under the saga's lock, taken before any message handler is registered: an amendment that
   * arrived with the start (or while createOrder ran) used to run beside it, its step fenced out by the missing row
   * or its pricing resolved in the same activation as createOrder on replay, in another command order.
   */
  createOrderLocked: 'create-order-locked',
  /**
   * Only the search attributes that changed are upserted, and nothing when none did (the first upsert, after
   * createOrder, repeated what the run started with): one visibility write fewer per order, smaller ones after.
   */
  upsertChangesOnly: 'upsert-changes-only',
} as const;

export type WorkflowChanges = Record<keyof typeof WorkflowChange, boolean>;

/**
 * One marker standing for every change a baseline lists: a run started since records the newest baseline's alone
 * instead of one marker per change (each also upserts the TemporalChangeVersion search attribute, a visibility write
 * on the server). A run recorded before a baseline replays without its marker and decides by an older baseline's, or
 * by each change's own marker. Each list is closed: a later change gets a new baseline, first here, that covers the
 * previous one's list and it.
 */
const DECEMBER: (keyof WorkflowChanges)[] = [
  'compensateAnyFailure',
  'messagesNeverFail',
  'paymentAfterMoneyMoved',
  'queuedDispatchWins',
  'restockNoticeKept',
  'forwardStepsFlagged',
  'honestAttention',
  'shorterTimeouts',
  'splitFulfilment',
  'amendUntilDispatch',
  'flagKeepsStepFence',
  'localCheckoutSteps',
];
const BASELINES: { id: string; covers: ReadonlySet<keyof WorkflowChanges> }[] = [
  { id: 'baseline-2026-12-b', covers: new Set([...DECEMBER, 'createOrderLocked', 'upsertChangesOnly']) },
  { id: 'baseline-2026-12', covers: new Set(DECEMBER) },
];

export function adoptedChanges(): WorkflowChanges {
  const baseline = BASELINES.find(({ id }) => patched(id));
  const adopted = {} as WorkflowChanges;
  for (const [name, id] of Object.entries(WorkflowChange) as [keyof WorkflowChanges, string][]) {
    adopted[name] = baseline?.covers.has(name) || patched(id);
  }
  return adopted;
}
