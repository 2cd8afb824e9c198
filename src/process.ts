import type { Logger } from 'pino';
import type { Config } from './config/config.js';
import { loadConfig } from './config/config.js';
import { createLogger } from './logger.js';

export type Stop = () => Promise<void>;

/** Named start-up failures are reported as one line with their code; anything else keeps its stack. */
export function describeFailure(error: unknown): string {
  if (error instanceof Error && 'code' in error && typeof error.code === 'string' && /^[A-Z_]+$/.test(error.code)) {
    return `${error.code}: ${error.message}`;
  }
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

/**
 * Runs a process role: parses the config, starts, and on SIGINT/SIGTERM stops gracefully (a second signal
 * exits at once). A start-up failure prints one clear line and exits with status 1.
 */
export function runProcess(name: string, start: (config: Config, logger: Logger) => Promise<Stop>): void {
  let logger: Logger | undefined;
  const main = async () => {
    const config = loadConfig();
    logger = createLogger(config.LOG_LEVEL, name);
    const stop = await start(config, logger);
    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) process.exit(130);
      stopping = true;
      logger?.info({ signal }, 'shutting down');
      stop().then(
        () => process.exit(0),
        (error: unknown) => {
          logger?.error({ err: error }, 'shutdown failed');
          process.exit(1);
        }
      );
    };
    process.on('SIGINT', () => shutdown('SIGINT'));
    process.on('SIGTERM', () => shutdown('SIGTERM'));
  };
  main().catch((error: unknown) => {
    process.stderr.write(`${name}: ${describeFailure(error)}\n`);
    process.exit(1);
  });
}
