/**
 * Assembles a coordinator: NATS connection, durable job store, live registry, broker-backed seating,
 * the deliberation engine, online learning and the gRPC API (with health and reflection). One function in,
 * one handle out; `conclave coordinator` and `conclave up` both run it.
 */
import type { Logger } from "pino";
import { CoordinatorService } from "../../../proto/gen/conclave/v1/coordinator_pb.js";
import type { JobEvent } from "../../../proto/gen/conclave/v1/deliberation_pb.js";
import {
  addHealthService,
  addReflectionService,
  addService,
  createGrpcServer,
  HealthStatus,
  listen,
  ServingStatus,
  shutdownGrpcServer,
} from "../../../proto/src/grpc/index.js";
import { connectNats, type NatsConnection } from "../../../proto/src/nats-io.js";
import { createWorkerClient } from "../../../proto/src/worker-client.js";
import { runJob, validateJobSpec } from "../deliberation/index.js";
import { createOpenAiHttpServer } from "../http/index.js";
import { JobManager } from "../jobs/job-manager.js";
import { openJobStore } from "../jobs/job-store.js";
import { DEFAULT_PROFILES, type ProfileFile, toDomain } from "../profiles/index.js";
import { resolveRegistryConfig } from "../registry/index.js";
import { coordinatorServiceImpl } from "./coordinator-service.js";
import { LearningStore, learnFromEvent } from "./learning.js";
import { NatsModelPort } from "./model-port.js";
import { brokerSeatProvider, planFor, previewSpec, roleDemandsFor, toWirePlan } from "./planning.js";
import { RegistryService } from "./registry-service.js";

export interface CoordinatorOptions {
  /** NATS server URL(s). */
  nats: string | string[];
  natsToken?: string;
  natsUser?: string;
  natsPassword?: string;
  /** gRPC listen address, e.g. "127.0.0.1:7420" (port 0 = any free port). */
  listen: string;
  /** Require `authorization: Bearer <token>` on the API (gRPC and HTTP). */
  apiToken?: string;
  /** OpenAI-compatible HTTP API address, e.g. "127.0.0.1:7421"; unset = off. */
  httpListen?: string;
  log: Logger;
  profiles?: ProfileFile;
  /** Workers' telemetry period; suspect/dead timings derive from it. @default 2000 */
  telemetryIntervalMs?: number;
  /** Jobs running at once. @default 4 */
  maxRunningJobs?: number;
  /** Longest single model call. @default 120000 */
  callTimeoutMs?: number;
  /** Wait this long for workers to announce themselves before resuming interrupted jobs. @default 2500 */
  recoveryDelayMs?: number;
}

export interface Coordinator {
  /** host:port the gRPC API listens on. */
  readonly address: string;
  /** Base URL of the OpenAI-compatible API (…/v1), when it is on. */
  readonly openAiUrl?: string;
  readonly port: number;
  readonly registry: RegistryService;
  readonly jobs: JobManager;
  readonly nc: NatsConnection;
  stop(): Promise<void>;
}

export async function startCoordinator(options: CoordinatorOptions): Promise<Coordinator> {
  const { log } = options;
  const profiles = options.profiles ?? DEFAULT_PROFILES;
  const nc = await connectNats({
    servers: options.nats,
    name: "conclave-coordinator",
    ...(options.natsToken ? { token: options.natsToken } : {}),
    ...(options.natsUser ? { user: options.natsUser, pass: options.natsPassword ?? "" } : {}),
  });
  try {
    const store = await openJobStore(nc);
    const learning = await LearningStore.open(nc, log.child({ component: "learning" }));
    const registry = new RegistryService({
      nc,
      config: resolveRegistryConfig({ telemetryIntervalMs: options.telemetryIntervalMs ?? 2000 }),
      log: log.child({ component: "registry" }),
      reliability: (id) => {
        const r = learning.stats.workers.get(id as never);
        return r ? (r.successes + 1) / (r.successes + r.failures + 1) : 1;
      },
    });
    const workers = createWorkerClient(nc);
    const models = new NatsModelPort({
      client: workers,
      isLive: (id) => registry.state.workers.has(id as never),
      onOutcome: (id, ok) => learning.recordRequest(id, ok),
    });
    registry.on("transition", (t) => {
      if (t.to === "dead" || t.to === "left")
        models.workerGone(t.workerId, t.to === "dead" ? "stopped reporting (dead)" : "left the pool");
    });
    const plannerInputs = () => ({
      registry: registry.state,
      profiles,
      stats: learning.stats,
      nowMs: Date.now(),
    });
    const jobLog = log.child({ component: "jobs" });
    const jobs = new JobManager({
      store,
      validate: validateJobSpec,
      log: jobLog,
      maxRunning: options.maxRunningJobs ?? 4,
      runner: async ({ jobId, spec, emit, signal, firstSequence, createdAtUnixMs }) => {
        const domain = toDomain(spec.domain || "general");
        const seatModels = new Map<string, { name: string; parameterCount: number }>();
        const learn = (event: JobEvent) => {
          if (event.event.case === "seated") {
            for (const s of event.event.value.seats) {
              const m = registry.state.workers.get(s.workerId as never)?.observation.model;
              if (m) seatModels.set(s.seatId, { name: m.name, parameterCount: m.parameterCount });
            }
          }
          learning.update((stats) => learnFromEvent(stats, event, domain, (seat) => seatModels.get(seat)));
        };
        await runJob({
          jobId,
          spec,
          models,
          seats: brokerSeatProvider(spec, plannerInputs),
          emit: (event) => {
            learn(event);
            emit(event);
          },
          signal,
          firstSequence,
          createdAtUnixMs,
          ...(options.callTimeoutMs ? { callTimeoutMs: options.callTimeoutMs } : {}),
          logger: jobLog.child({ jobId }),
        });
      },
    });

    const server = createGrpcServer({
      logger: log.child({ component: "grpc" }),
      ...(options.apiToken ? { token: options.apiToken } : {}),
    });
    addService(
      server,
      CoordinatorService,
      coordinatorServiceImpl({
        registry,
        jobs,
        workers,
        previewPlan: (req) => {
          const spec = previewSpec(req);
          const outcome = planFor(spec, roleDemandsFor(spec), plannerInputs(), {
            familyCap: req.maxSeatsPerFamily,
          });
          return toWirePlan(outcome, Date.now());
        },
      }),
    );
    const health = new HealthStatus();
    health.set(CoordinatorService.typeName, ServingStatus.SERVING);
    addHealthService(server, health);
    addReflectionService(server);
    const port = await listen(server, options.listen);
    const host = options.listen.slice(0, options.listen.lastIndexOf(":"));
    let http: ReturnType<typeof createOpenAiHttpServer> | undefined;
    let openAiUrl: string | undefined;
    if (options.httpListen) {
      http = createOpenAiHttpServer({
        jobs,
        registry,
        log: log.child({ component: "http" }),
        ...(options.apiToken ? { token: options.apiToken } : {}),
      });
      const i = options.httpListen.lastIndexOf(":");
      const httpHost = options.httpListen.slice(0, i);
      const httpPort = await http.listen(httpHost, Number(options.httpListen.slice(i + 1)));
      openAiUrl = `http://${httpHost}:${httpPort}/v1`;
    }
    registry.start();

    // Interrupted jobs resume once workers had a moment to announce themselves.
    const recovery = setTimeout(() => {
      jobs.recover().catch((err: unknown) => log.error({ err }, "job recovery failed"));
    }, options.recoveryDelayMs ?? 2500);

    log.info({ address: `${host}:${port}` }, "coordinator listening");
    let stopped = false;
    return {
      address: `${host}:${port}`,
      port,
      ...(openAiUrl ? { openAiUrl } : {}),
      registry,
      jobs,
      nc,
      async stop() {
        if (stopped) return;
        stopped = true;
        clearTimeout(recovery);
        health.shutdown();
        await http?.close();
        await jobs.close();
        await shutdownGrpcServer(server, { graceMs: 2000 });
        registry.stop();
        await learning.close();
        await nc.drain().catch(() => nc.close());
      },
    };
  } catch (err) {
    await nc.close();
    throw err;
  }
}
