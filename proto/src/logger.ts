/**
 * The pino logger factory. Each `main` makes one root logger and passes it down; components take
 * `log.child({ component })`. Secrets are redacted by path wherever they appear in log objects.
 */
import { type DestinationStream, type Logger, type LoggerOptions, pino } from "pino";

export type { Logger };

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Field paths whose values are never written to logs. */
export const REDACT_PATHS = [
  "token",
  "apiKey",
  "api_key",
  "password",
  "pass",
  "authorization",
  "*.token",
  "*.apiKey",
  "*.api_key",
  "*.password",
  "*.pass",
  "*.authorization",
  "headers.authorization",
  "config.natsToken",
  "config.apiToken",
];

export interface LoggerFactoryOptions {
  /** @default "info" */
  level?: LogLevel;
  /** Process role, e.g. "worker" or "coordinator". */
  name: string;
  /** Where lines go. @default stderr (stdout stays free for command output) */
  destination?: DestinationStream;
  /** Extra fields on every line (e.g. worker id). */
  base?: Record<string, unknown>;
}

export function createLogger(options: LoggerFactoryOptions): Logger {
  const pinoOptions: LoggerOptions = {
    name: options.name,
    level: options.level ?? "info",
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    base: { pid: process.pid, ...options.base },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return pino(pinoOptions, options.destination ?? pino.destination({ fd: 2, sync: false }));
}

/** A logger that writes nothing: the default for library code and tests. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
