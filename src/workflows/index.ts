// The worker's workflowsPath: everything exported here runs in the deterministic sandbox.
export { OrderWorkflow } from './order-workflow.js';
export { RecoverOrderWorkflow } from './recover-order-workflow.js';
export { ReturnWorkflow } from './return-workflow.js';
