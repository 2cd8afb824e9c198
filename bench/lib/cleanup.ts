import { log } from './log.js';

/** Undo steps, run last-registered first; each bounded in time so a stuck one cannot keep the rest from running. */
export class Cleanup {
  private readonly steps: { name: string; undo: () => Promise<unknown> }[] = [];
  private running: Promise<void> | undefined;

  add(name: string, undo: () => Promise<unknown>): void {
    // Something that finished starting after Ctrl-C began the clean-up is undone at once.
    if (this.running) void this.running.then(() => undo().catch(() => undefined));
    else this.steps.push({ name, undo });
  }

  run(): Promise<void> {
    this.running ??= (async () => {
      for (const step of this.steps.reverse()) {
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([
            step.undo(),
            new Promise((_, reject) => {
              timer = setTimeout(() => reject(new Error('timed out after 30 s')), 30_000);
            }),
          ]);
        } catch (error) {
          log(`clean-up: ${step.name} failed: ${error instanceof Error ? error.message : String(error)}`);
        } finally {
          clearTimeout(timer);
        }
      }
    })();
    return this.running;
  }
}
