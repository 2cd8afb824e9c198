import { pino } from 'pino';
import type { Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, name: string): Logger {
  return pino({
    name,
    level,
    // Request bodies, tokens and card tokens never reach the log.
    redact: ['req.headers.authorization', 'payment.token', '*.token', 'token'],
  });
}
