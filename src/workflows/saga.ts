import { CancellationScope } from '@temporalio/workflow';

export interface Compensation {
  name: string;
  run: () => Promise<void>;
}

/**
 * Undo steps of a saga. Each is registered before the step it undoes (so a step that fails half-way, or whose
 * result was lost, is still undone; every compensation is idempotent) and they run in reverse order, in a scope
 * no cancellation can interrupt. A compensation that keeps failing is never swallowed: `whenStuck` decides what
 * happens (the order flags itself and waits for an operator), then it is tried again.
 */
export class Saga {
  private readonly compensations: Compensation[] = [];

  add(name: string, run: () => Promise<void>): void {
    if (!this.compensations.some((compensation) => compensation.name === name)) {
      this.compensations.push({ name, run });
    }
  }

  async compensate(whenStuck: (name: string, error: unknown) => Promise<void>): Promise<void> {
    await CancellationScope.nonCancellable(async () => {
      while (this.compensations.length > 0) {
        const next = this.compensations[this.compensations.length - 1]!;
        try {
          await next.run();
          this.compensations.pop();
        } catch (error) {
          await whenStuck(next.name, error);
        }
      }
    });
  }
}
