/**
 * A FIFO mutex for workflow code. Message handlers and the main flow both await activities; holding this lock
 * around every step means an amendment, a cancellation and a saga step never interleave half-way.
 */
export class Lock {
  private tail: Promise<void> = Promise.resolve();

  async runExclusive<T>(critical: () => Promise<T>): Promise<T> {
    const previous = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((resolve) => (release = resolve));
    await previous;
    try {
      return await critical();
    } finally {
      release();
    }
  }
}
