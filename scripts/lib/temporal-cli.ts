import { spawnSync } from 'node:child_process';
import { accessSync, constants, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

// Scripts, unlike the service, read PATH and HOME: they locate tools on the developer's machine.

/** Later tags carry a `replace` directive that `go install` refuses; this one builds from the module proxy. */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
const MODULE = 'github.com/temporalio/cli/cmd/temporal';

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string): string | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).concat(['/usr/local/go/bin']);
  return dirs.map((dir) => join(dir, name)).find(isExecutable);
}

export function cacheDir(): string {
  return join(
    process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'),
    'flowmart',
    'temporal-cli',
    TEMPORAL_CLI_VERSION
  );
}

export class TemporalCliMissingError extends Error {
  readonly code = 'TEMPORAL_CLI_MISSING';
  constructor(detail: string) {
    super(
      `${detail}. Install the Temporal CLI from your package manager (e.g. \`brew install temporal\`), ` +
        `or install Go 1.23+ so this script can build ${TEMPORAL_CLI_VERSION} once into ${cacheDir()}, ` +
        'or point TEMPORAL_CLI at a temporal binary.'
    );
    this.name = 'TemporalCliMissingError';
  }
}

/**
 * The `temporal` binary (dev server + Web UI): TEMPORAL_CLI, else `temporal` on PATH, else a cached build, else
 * built once with `go install` into the cache. Nothing is downloaded at run time beyond Go modules at build time.
 */
export function findTemporalCli(log: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): string {
  const explicit = process.env.TEMPORAL_CLI;
  if (explicit) {
    if (!isExecutable(explicit)) throw new TemporalCliMissingError(`TEMPORAL_CLI=${explicit} is not an executable`);
    return explicit;
  }
  const installed = onPath('temporal');
  if (installed) return installed;
  const cached = join(cacheDir(), 'temporal');
  if (isExecutable(cached)) return cached;
  const go = onPath('go');
  if (!go) throw new TemporalCliMissingError('no `temporal` on PATH and no Go toolchain to build it');
  mkdirSync(cacheDir(), { recursive: true });
  log(`Building the Temporal CLI ${TEMPORAL_CLI_VERSION} with go install (first run only; about 5 minutes)...`);
  const started = Date.now();
  const build = spawnSync(go, ['install', `${MODULE}@${TEMPORAL_CLI_VERSION}`], {
    env: { ...process.env, GOBIN: cacheDir(), GOFLAGS: '-mod=mod' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (build.status !== 0 || !isExecutable(cached)) {
    throw new TemporalCliMissingError(`\`go install ${MODULE}@${TEMPORAL_CLI_VERSION}\` failed (exit ${build.status})`);
  }
  log(`Temporal CLI built in ${Math.round((Date.now() - started) / 1000)} s: ${cached}`);
  return cached;
}
