/** `conclave coordinator`: runs the coordinator until SIGINT/SIGTERM. Returns the exit code. */
import { readFileSync } from "node:fs";
import { Command, Option } from "commander";
import { loadConfig, toKebab } from "../../../proto/src/config.js";
import { ConclaveError, ErrorCode, exitCodeOf, isConclaveError } from "../../../proto/src/errors.js";
import { createShutdown } from "../../../proto/src/lifecycle.js";
import { createLogger, type LogLevel } from "../../../proto/src/logger.js";
import { parseProfileText } from "../profiles/index.js";
import { coordinatorConfigSchema } from "./config.js";
import { startCoordinator } from "./coordinator.js";

export async function coordinatorMain(argv: string[]): Promise<number> {
  const cmd = new Command("conclave coordinator")
    .description("run the coordinator: registry, broker, deliberation and the gRPC API")
    .option("-c, --config <file>", "YAML/JSON config file")
    .exitOverride()
    .showHelpAfterError("(run `conclave coordinator --help` for every option)");
  for (const [key, spec] of Object.entries(coordinatorConfigSchema)) {
    const opt = new Option(`--${toKebab(key)} <value>`, spec.doc);
    if ("choices" in spec && spec.choices) opt.choices([...spec.choices]);
    cmd.addOption(opt);
  }
  try {
    cmd.parse(argv, { from: "user" });
  } catch (err) {
    return (err as { exitCode?: number }).exitCode === 0 ? 0 : 2;
  }
  const opts = cmd.opts<Record<string, unknown>>();
  const flags: Record<string, unknown> = {};
  for (const key of Object.keys(coordinatorConfigSchema)) if (opts[key] !== undefined) flags[key] = opts[key];

  let config: ReturnType<typeof loadConfig<typeof coordinatorConfigSchema>>["config"];
  let profiles: Parameters<typeof startCoordinator>[0]["profiles"];
  let apiToken: string | undefined;
  try {
    const path = typeof opts.config === "string" ? opts.config : process.env.CONCLAVE_CONFIG;
    const file = path ? { path, text: readFileSync(path, "utf8") } : undefined;
    config = loadConfig(coordinatorConfigSchema, {
      flags,
      env: process.env,
      ...(file ? { file } : {}),
    }).config;
    apiToken =
      config.apiToken ?? (config.apiTokenFile ? readFileSync(config.apiTokenFile, "utf8").trim() : undefined);
    if (config.profiles) {
      const parsed = parseProfileText(readFileSync(config.profiles, "utf8"));
      if (!parsed.ok) {
        throw new ConclaveError(
          ErrorCode.INVALID_ARGUMENT,
          `${config.profiles}:\n  - ${parsed.problems.join("\n  - ")}`,
          {
            details: parsed.problems,
          },
        );
      }
      profiles = parsed.value;
    }
  } catch (err) {
    process.stderr.write(`conclave coordinator: ${(err as Error).message}\n`);
    return 2;
  }

  const log = createLogger({ name: "coordinator", level: config.logLevel as LogLevel });
  try {
    const coordinator = await startCoordinator({
      nats: config.nats.split(",").map((s) => s.trim()),
      listen: config.listen,
      log,
      telemetryIntervalMs: config.telemetryInterval,
      maxRunningJobs: config.maxRunningJobs,
      callTimeoutMs: config.callTimeout,
      ...(config.natsToken ? { natsToken: config.natsToken } : {}),
      ...(config.natsUser ? { natsUser: config.natsUser, natsPassword: config.natsPassword ?? "" } : {}),
      ...(apiToken ? { apiToken } : {}),
      ...(config.http !== "off" && config.http !== "" ? { httpListen: config.http } : {}),
      ...(profiles ? { profiles } : {}),
    });
    if (process.stderr.isTTY)
      process.stderr.write(`coordinator listening on ${coordinator.address} (NATS ${config.nats})\n`);
    const shutdown = createShutdown({ log, exitWhenDone: false });
    shutdown.add("coordinator", () => coordinator.stop());
    return await shutdown.done;
  } catch (err) {
    const e = isConclaveError(err) ? err : undefined;
    process.stderr.write(`conclave coordinator: ${(err as Error).message}\n`);
    if (!e) log.error({ err }, "coordinator failed to start");
    return e ? exitCodeOf(e.code) : 1;
  }
}
