/** Test logger: silent unless TEST_LOG_LEVEL is set (e.g. TEST_LOG_LEVEL=debug npx vitest run ...). */
import { createLogger, type Logger, type LogLevel, silentLogger } from "../../proto/src/logger.js";

export function testLogger(name = "test"): Logger {
  const level = process.env.TEST_LOG_LEVEL as LogLevel | undefined;
  return level ? createLogger({ name, level }) : silentLogger();
}
