import { spawnSync } from 'node:child_process';
import { accessSync, constants, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

// Scripts, unlike the service, read PATH and HOME: they locate tools on the developer's machine.

/** A Go program the scripts run, built from the Go module proxy once per version and cached. */
export interface GoTool {
  /** What it is called in messages, e.g. "the Temporal CLI". */
  label: string;
  /** Directory name under ~/.cache/flowmart/. */
  cacheName: string;
  version: string;
  /** Packages installed together by one `go install`, e.g. the server and its sql tool from one module. */
  packages: string[];
  /** Rough first-build time, for the one line printed before it starts. */
  buildMinutes: number;
}

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function onPath(name: string): string | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).concat(['/usr/local/go/bin']);
  return dirs.map((dir) => join(dir, name)).find(isExecutable);
}

export function toolCacheDir(tool: GoTool): string {
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'flowmart', tool.cacheName, tool.version);
}

export class GoToolMissingError extends Error {
  readonly code = 'GO_TOOL_MISSING';
  constructor(tool: GoTool, detail: string) {
    super(
      `${detail}. Install Go 1.23+ so the scripts can build ${tool.label} ${tool.version} once into ${toolCacheDir(tool)}`
    );
    this.name = 'GoToolMissingError';
  }
}

/**
 * The executable `binary` of `tool` from the cache, built with `go install` into it first if missing. Nothing is
 * downloaded at run time beyond Go modules at build time.
 */
export function findGoTool(
  tool: GoTool,
  binary: string,
  log: (line: string) => void = (line) => process.stderr.write(`${line}\n`)
): string {
  const cached = join(toolCacheDir(tool), binary);
  if (isExecutable(cached)) return cached;
  const go = onPath('go');
  if (!go) throw new GoToolMissingError(tool, `${tool.label} is not built and there is no Go toolchain to build it`);
  mkdirSync(toolCacheDir(tool), { recursive: true });
  const targets = tool.packages.map((pkg) => `${pkg}@${tool.version}`);
  log(`Building ${tool.label} ${tool.version} with go install (first run only; about ${tool.buildMinutes} minutes)...`);
  const started = Date.now();
  const build = spawnSync(go, ['install', ...targets], {
    env: { ...process.env, GOBIN: toolCacheDir(tool), GOFLAGS: '-mod=mod' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (build.status !== 0 || !isExecutable(cached)) {
    throw new GoToolMissingError(tool, `\`go install ${targets.join(' ')}\` failed (exit ${build.status})`);
  }
  log(`${tool.label} built in ${Math.round((Date.now() - started) / 1000)} s: ${cached}`);
  return cached;
}

/** Where a module's source is unpacked (schema files, sample configs), downloading it from the proxy if missing. */
export function goModuleDir(module: string, version: string): string {
  const go = onPath('go');
  if (!go) throw new Error(`no Go toolchain to fetch ${module}@${version}`);
  const download = spawnSync(go, ['mod', 'download', '-json', `${module}@${version}`], { encoding: 'utf8' });
  if (download.status !== 0) throw new Error(`go mod download ${module}@${version} failed: ${download.stderr}`);
  return (JSON.parse(download.stdout) as { Dir: string }).Dir;
}
