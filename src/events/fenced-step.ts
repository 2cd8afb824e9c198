import type { Db, Tx } from '../db/client.js';
import type { StepInput } from '../domain/causation.js';
import type { DomainEvent } from './envelope.js';
import type { OutboxWriter } from './outbox.js';

/**
 * Claims the order's step sequence: the step applies only if it is newer than the last one applied to the order,
 * so a retried attempt of a step that already committed, or a late attempt overtaken by a later step, changes
 * nothing. A different step (`key`) under the number last applied applies too: that number's first holder was a local
 * activity whose workflow task was lost after it committed, and the retried task gave the number to a step of a
 * message handled first, which has not run. A key of NULL (applied before keys were kept) counts as the same step.
 * Returns false when the step is stale or already applied.
 */
async function claimStep(tx: Tx, orderId: string, seq: number, key: string): Promise<boolean> {
  const claimed = await tx.$executeRaw`
    UPDATE orders SET step_seq = ${seq}, step_key = ${key}, updated_at = now()
    WHERE id = ${orderId}::uuid AND (step_seq < ${seq} OR (step_seq = ${seq} AND step_key <> ${key}))`;
  return claimed === 1;
}

/**
 * The same fence on a return: a return's ReturnWorkflow numbers its own steps, and the order's workflow may still be
 * running (shipped, not delivered), so the two must not share one sequence.
 */
async function claimReturnStep(tx: Tx, returnId: string, seq: number): Promise<boolean> {
  const claimed = await tx.$executeRaw`
    UPDATE returns SET step_seq = ${seq}, updated_at = now() WHERE id = ${returnId}::uuid AND step_seq < ${seq}`;
  return claimed === 1;
}

/** The input of a return's fenced step: `seq` is numbered by the return's workflow. */
export interface ReturnStepInput extends StepInput {
  returnId: string;
}

/** The work of a step: changes rows inside the transaction and returns the events that report them. */
export type StepWork = (tx: Tx) => Promise<readonly DomainEvent[]>;

export interface FencedStep {
  /** Runs `work` if the step is new, then reads the step's answer in the same transaction either way. */
  <T>(input: StepInput, work: StepWork, answer: (tx: Tx) => Promise<T>): Promise<T>;
  (input: StepInput, work: StepWork): Promise<void>;
}

/**
 * The one way a state-changing activity touches the database: in one transaction, claim the step, run the work
 * and append its events to the outbox. A stale or repeated step runs no work and publishes nothing. `stepKey` names
 * the step being run (the activity's type).
 */
export function fencedStep(db: Db, outbox: OutboxWriter, stepKey: () => string): FencedStep {
  return fenced(db, outbox, (tx, input: StepInput) => claimStep(tx, input.orderId, input.seq, stepKey()));
}

export interface FencedReturnStep {
  <T>(input: ReturnStepInput, work: StepWork, answer: (tx: Tx) => Promise<T>): Promise<T>;
  (input: ReturnStepInput, work: StepWork): Promise<void>;
}

/** `fencedStep` for a return's steps, claimed on the return's own sequence. */
export function fencedReturnStep(db: Db, outbox: OutboxWriter): FencedReturnStep {
  return fenced(db, outbox, (tx, input: ReturnStepInput) => claimReturnStep(tx, input.returnId, input.seq));
}

function fenced<I extends StepInput>(db: Db, outbox: OutboxWriter, claim: (tx: Tx, input: I) => Promise<boolean>) {
  return <T>(input: I, work: StepWork, answer?: (tx: Tx) => Promise<T>) =>
    db.$transaction(async (tx) => {
      if (await claim(tx, input)) await outbox.append(tx, await work(tx));
      return answer?.(tx);
    });
}
