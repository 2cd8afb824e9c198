import { loadConfig } from '../src/config/config.js';
import { runOps, USAGE, UsageError } from '../src/ops/cli.js';
import { describeFailure } from '../src/process.js';

// An operator tool signs nothing: the API's auth settings do not apply.
runOps(process.argv.slice(2), loadConfig({ ...process.env, AUTH: 'off' }), (text) => process.stdout.write(text)).catch(
  (error: unknown) => {
    process.stderr.write(`ops: ${describeFailure(error)}\n`);
    if (error instanceof UsageError) process.stderr.write(`\n${USAGE}\n`);
    process.exit(1);
  }
);
