/** Conclave's version, reported in telemetry and `--version`. A unit test keeps it equal to package.json. */
export const VERSION = "0.1.0";
