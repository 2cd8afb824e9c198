import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { bundleWorkflowCode, DefaultLogger, Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { describe, expect, it } from 'vitest';
import { HISTORIES_DIR } from '../saga/support.js';
import { workflowBundle } from '../support/system.js';

const fixtures = readdirSync(HISTORIES_DIR).filter((file) => file.endsWith('.json'));
const load = (file: string) => historyFromJSON(JSON.parse(readFileSync(join(HISTORIES_DIR, file), 'utf8')));

// Recorded by the saga tests with RECORD_HISTORIES=1. A change to OrderWorkflow that cannot replay these breaks
// orders already running in production: guard it with `patched()` (see README, "Changing the workflow").
describe('workflow determinism - recorded histories replay on the current code', () => {
  it('has a recorded history for every saga scenario', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(10);
  });

  for (const file of fixtures) {
    it(`replays ${file}`, async () => {
      await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, load(file), file);
    });
  }

  it('detects an incompatible change as a determinism violation', async () => {
    const changed = await bundleWorkflowCode({
      workflowsPath: join(import.meta.dirname, 'changed-workflow', 'index.ts'),
      logger: new DefaultLogger('WARN'),
    });
    await expect(
      Worker.runReplayHistory({ workflowBundle: changed }, load('completed.json'), 'completed')
    ).rejects.toBeInstanceOf(DeterminismViolationError);
  });
});
