/** Every setting of `conclave coordinator`, declared once: flags, CONCLAVE_* variables and config-file keys. */
import type { ConfigSchema } from "../../../proto/src/config.js";
import { LOG_LEVELS } from "../../../proto/src/logger.js";

export const coordinatorConfigSchema = {
  nats: {
    kind: "string",
    default: "nats://127.0.0.1:4222",
    doc: "NATS server URL(s), comma-separated (JetStream on)",
  },
  natsToken: { kind: "string", doc: "NATS auth token", secret: true },
  natsUser: { kind: "string", doc: "NATS user" },
  natsPassword: { kind: "string", doc: "NATS password", secret: true },
  listen: {
    kind: "string",
    default: "127.0.0.1:7420",
    doc: "gRPC listen address host:port (port 0 = any free port)",
  },
  http: {
    kind: "string",
    default: "127.0.0.1:7421",
    doc: 'OpenAI-compatible HTTP API address host:port ("off" to disable)',
  },
  apiToken: { kind: "string", doc: "require this bearer token on the gRPC API", secret: true },
  apiTokenFile: { kind: "string", doc: "read the API token from this file" },
  profiles: {
    kind: "string",
    doc: "model profile file (YAML/JSON) layered over the shipped defaults; see deploy/PROFILES.md",
  },
  telemetryInterval: {
    kind: "duration",
    default: 2000,
    min: 100,
    doc: "workers' telemetry period (suspect/dead timings derive from it)",
  },
  maxRunningJobs: {
    kind: "int",
    default: 4,
    min: 1,
    max: 256,
    doc: "jobs that run at once; the rest queue in arrival order",
  },
  callTimeout: { kind: "duration", default: 120_000, min: 1000, doc: "longest a single model call may take" },
  logLevel: { kind: "string", default: "info", choices: LOG_LEVELS, doc: "log level" },
} satisfies ConfigSchema;
