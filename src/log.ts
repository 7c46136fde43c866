import { pino, type Logger } from 'pino';

/** Operational logs: one JSON object per line on stdout, level from PORTICO_LOG_LEVEL (default info). */
export function createLogger(): Logger {
  return pino({ level: process.env['PORTICO_LOG_LEVEL'] ?? 'info', base: { component: 'portico' } });
}

export type { Logger };
