import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './lib/database.js';

/**
 * `npm ci` refuses a lockfile that lacks any optional dependency of a locked package, even one for another
 * platform. npm records those only when the registry serves them; the registry this project is built against lacks
 * some (e.g. @dbmate/darwin-arm64), so `npm install` leaves them out. This adds each missing `<scope>/<os>-<cpu>`
 * package as an optional entry restricted to its platform: npm ci accepts the lockfile and skips the entry on every
 * other platform; on its own platform npm fetches it from that platform's registry as usual.
 *
 *   npm install --package-lock-only && npm run lock:platforms
 */
const OS = new Set(['darwin', 'linux', 'win32', 'freebsd', 'openbsd', 'sunos', 'aix', 'android']);
const CPU = new Set(['x64', 'arm64', 'arm', 'ia32', 'ppc64', 's390x', 'riscv64', 'loong64', 'mips64el']);

interface LockEntry {
  version?: string;
  dev?: boolean;
  optional?: boolean;
  license?: string;
  os?: string[];
  cpu?: string[];
  optionalDependencies?: Record<string, string>;
}

const file = join(ROOT, 'package-lock.json');
const lock = JSON.parse(readFileSync(file, 'utf8')) as { packages: Record<string, LockEntry> };
const added: string[] = [];
const unknown: string[] = [];
for (const [path, entry] of Object.entries(lock.packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const target = `${path ? `${path}/` : ''}node_modules/${name}`;
    const hoisted = `node_modules/${name}`;
    if (lock.packages[target] ?? lock.packages[hoisted]) continue;
    const [os, cpu] = (name.split('/').pop() ?? '').split('-');
    if (!os || !cpu || !OS.has(os) || !CPU.has(cpu) || !/^\d+\.\d+\.\d+$/.test(version)) {
      unknown.push(`${name}@${version} (optional dependency of ${path})`);
      continue;
    }
    lock.packages[hoisted] = {
      version,
      ...(entry.dev ? { dev: true } : {}),
      optional: true,
      ...(entry.license ? { license: entry.license } : {}),
      os: [os],
      cpu: [cpu],
    };
    added.push(`${name}@${version}`);
  }
}
lock.packages = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
process.stdout.write(added.length ? `added ${added.join(', ')}\n` : 'nothing missing\n');
if (unknown.length) {
  process.stderr.write(`not a <os>-<cpu> package, add it with npm install instead: ${unknown.join(', ')}\n`);
  process.exit(1);
}
