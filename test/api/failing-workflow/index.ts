/**
 * An order workflow whose every workflow task fails (a plain Error fails the task, not the workflow): what a broken or
 * half-deployed worker looks like to the server, which then answers queries and updates with FAILED_PRECONDITION.
 */
export function OrderWorkflow(): Promise<void> {
  return Promise.reject(new Error('this worker cannot run orders'));
}
