import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';

const PACKAGES = [
  '@temporalio/client',
  '@temporalio/worker',
  '@temporalio/workflow',
  '@prisma/client',
  '@prisma/adapter-pg',
  'pg',
  '@nats-io/jetstream',
  '@nats-io/transport-node',
  'express',
  'tsx',
];

function installedVersion(root: string, name: string): string {
  try {
    const manifest = JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as {
      version?: string;
    };
    return manifest.version ?? '?';
  } catch {
    return 'missing';
  }
}

function run(command: string, args: string[], cwd?: string): string {
  const result = spawnSync(command, args, { encoding: 'utf8', ...(cwd ? { cwd } : {}) });
  return result.status === 0 ? result.stdout.trim() : `unavailable (${(result.stderr || String(result.error)).trim()})`;
}

/** Versions and machine facts recorded with every result (section 3.2 of the performance notes). */
export function environment(root: string, temporalCli: string | undefined) {
  const status = run('git', ['status', '--porcelain'], root);
  return {
    node: process.version,
    packages: Object.fromEntries(PACKAGES.map((name) => [name, installedVersion(root, name)])),
    temporalCli: temporalCli ? run(temporalCli, ['--version']) : 'not used',
    nproc: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? '?',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    gitSha: run('git', ['rev-parse', 'HEAD'], root),
    /** Other engineers work in the same checkout: uncommitted files are listed, not judged. */
    gitUncommittedFiles: status.startsWith('unavailable') ? status : status.split('\n').filter(Boolean).length,
    nodeEnv: process.env.NODE_ENV ?? '',
  };
}
