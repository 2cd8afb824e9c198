import type { GoTool } from './go-tool.js';
import { findGoTool, GoToolMissingError, isExecutable, onPath } from './go-tool.js';

/** Later tags carry a `replace` directive that `go install` refuses; this one builds from the module proxy. */
export const TEMPORAL_CLI: GoTool = {
  label: 'the Temporal CLI',
  cacheName: 'temporal-cli',
  version: 'v1.5.1',
  packages: ['github.com/temporalio/cli/cmd/temporal'],
  buildMinutes: 5,
};

/**
 * The `temporal` binary (dev server + Web UI): TEMPORAL_CLI, else `temporal` on PATH (e.g. `brew install
 * temporal`), else a cached build, else built once with `go install` into the cache.
 */
export function findTemporalCli(log?: (line: string) => void): string {
  const explicit = process.env.TEMPORAL_CLI;
  if (explicit) {
    if (!isExecutable(explicit))
      throw new GoToolMissingError(TEMPORAL_CLI, `TEMPORAL_CLI=${explicit} is not an executable`);
    return explicit;
  }
  return onPath('temporal') ?? findGoTool(TEMPORAL_CLI, 'temporal', log);
}
