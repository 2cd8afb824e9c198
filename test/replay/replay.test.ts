import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { temporal } from '@temporalio/proto';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { bundleWorkflowCode, DefaultLogger, Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { describe, expect, it } from 'vitest';
import { payloadKeys } from '../../src/config/payload-keys.js';
import { dataConverter, ENCRYPTED_ENCODING, EncryptionCodec } from '../../src/temporal/payload-codec.js';
import { ENCRYPTED_HISTORIES_DIR, HISTORIES_DIR } from '../saga/support.js';
import { TEST_PAYLOAD_KEYS, workflowBundle } from '../support/system.js';

const fixturesIn = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((file) => file.endsWith('.json')) : []);
const legacy = fixturesIn(HISTORIES_DIR);
const encrypted = fixturesIn(ENCRYPTED_HISTORIES_DIR);
const load = (dir: string, file: string) => historyFromJSON(JSON.parse(readFileSync(join(dir, file), 'utf8')));

// The replayer decodes with the test key, as the test workers that recorded the encrypted histories encoded.
const converter = dataConverter(new EncryptionCodec(payloadKeys.parse(TEST_PAYLOAD_KEYS)));

/** The encoding of the workflow's input as stored in the history: what the server and its readers see. */
function inputEncoding(history: temporal.api.history.v1.IHistory): string | undefined {
  const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
  const encoding = started?.input?.payloads?.[0]?.metadata?.encoding;
  return encoding ? Buffer.from(encoding).toString() : undefined;
}

// Recorded by the saga tests with RECORD_HISTORIES=1. A change to OrderWorkflow that cannot replay these breaks
// orders already running in production: guard it with `patched()` (see README, "Changing the workflow").
describe('workflow determinism - recorded histories replay on the current code', () => {
  it('has a recorded history for every saga scenario', () => {
    expect(legacy.length).toBeGreaterThanOrEqual(10);
  });

  for (const file of legacy) {
    it(`replays ${file}, recorded before payload encryption, through the codec's pass-through`, async () => {
      const history = load(HISTORIES_DIR, file);
      expect(inputEncoding(history)).toBe('json/plain');
      await Worker.runReplayHistory(
        { workflowBundle: await workflowBundle(), dataConverter: converter },
        history,
        file
      );
    });
  }

  it('has encrypted recordings', () => {
    expect(encrypted.length).toBeGreaterThanOrEqual(1);
  });

  for (const file of encrypted) {
    it(`replays encrypted/${file} with the key it was written with`, async () => {
      const history = load(ENCRYPTED_HISTORIES_DIR, file);
      expect(inputEncoding(history)).toBe(ENCRYPTED_ENCODING);
      await Worker.runReplayHistory(
        { workflowBundle: await workflowBundle(), dataConverter: converter },
        history,
        file
      );
    });
  }

  it('detects an incompatible change as a determinism violation', async () => {
    const changed = await bundleWorkflowCode({
      workflowsPath: join(import.meta.dirname, 'changed-workflow', 'index.ts'),
      logger: new DefaultLogger('WARN'),
    });
    await expect(
      Worker.runReplayHistory({ workflowBundle: changed }, load(HISTORIES_DIR, 'completed.json'), 'completed')
    ).rejects.toBeInstanceOf(DeterminismViolationError);
  });
});
