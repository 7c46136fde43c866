import { pino, type Logger } from 'pino';

/**
 * Operational logs: one JSON object per line on stdout, level from PORTICO_LOG_LEVEL (default
 * info). Times are ISO 8601, as in the JSON access log, so one parser reads both.
 */
export function createLogger(): Logger {
  return pino({ level: process.env['PORTICO_LOG_LEVEL'] ?? 'info', base: { component: 'portico' }, timestamp: pino.stdTimeFunctions.isoTime });
}

export type { Logger };
