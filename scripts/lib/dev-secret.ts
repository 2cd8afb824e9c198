import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './database.js';

export const DATA_DIR = join(ROOT, '.data');

/**
 * Local runs need a JWT secret to mint dev tokens with. Unless JWT_SECRET is set, one is generated once and kept
 * in the git-ignored .data dir, so `npm run token` and `npm run dev` agree.
 */
export function devJwtSecret(): string {
  if (process.env.JWT_SECRET) return process.env.JWT_SECRET;
  const file = join(DATA_DIR, 'dev-jwt-secret');
  if (!existsSync(file)) {
    mkdirSync(DATA_DIR, { recursive: true });
    writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600 });
  }
  return readFileSync(file, 'utf8').trim();
}
