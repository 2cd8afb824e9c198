// The floors' workflow code, bundled together and served by one floor worker (bench/setup/floor-worker.ts).
export { FloorWorkflow } from './floor.js';
export { NaiveCheckoutWorkflow } from './naive.js';
