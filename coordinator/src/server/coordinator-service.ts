/**
 * The gRPC CoordinatorService: a thin mapping from RPCs to the registry, the planner, the job manager and
 * the worker protocol. Errors are ConclaveErrors; the gRPC kit turns them into statuses at the edge.
 */
import { create } from "@bufbuild/protobuf";
import {
  type CoordinatorService,
  ListWorkersResponseSchema,
  type WatchWorkersResponse,
} from "../../../proto/gen/conclave/v1/coordinator_pb.js";
import type { Plan, PlanRequest } from "../../../proto/gen/conclave/v1/plan_pb.js";
import { ConclaveError, ErrorCode } from "../../../proto/src/errors.js";
import type { ServiceImpl } from "../../../proto/src/grpc/index.js";
import { workerIdProblem } from "../../../proto/src/ids.js";
import type { WorkerClient } from "../../../proto/src/worker-client.js";
import type { JobManager } from "../jobs/job-manager.js";
import type { RegistryTransition } from "../registry/index.js";
import { type RegistryService, toWireRegistryState } from "./registry-service.js";

export interface CoordinatorServiceDeps {
  registry: RegistryService;
  jobs: JobManager;
  workers: WorkerClient;
  previewPlan(request: PlanRequest): Plan;
}

export function coordinatorServiceImpl(deps: CoordinatorServiceDeps): ServiceImpl<typeof CoordinatorService> {
  const { registry, jobs } = deps;
  return {
    async *submitJob(req, ctx) {
      if (!req.spec) throw new ConclaveError(ErrorCode.INVALID_ARGUMENT, "spec is missing");
      const job = await jobs.submit(req.spec, req.clientRequestId);
      if (req.detach) {
        for await (const event of jobs.watch(job.jobId, 1n, ctx.signal)) {
          yield { event };
          if (event.event.case === "accepted") return;
        }
        return;
      }
      for await (const event of jobs.watch(job.jobId, 1n, ctx.signal)) yield { event };
    },

    async *watchJob(req, ctx) {
      for await (const event of jobs.watch(
        req.jobId,
        req.fromSequence > 0n ? req.fromSequence : 1n,
        ctx.signal,
      )) {
        yield { event };
      }
    },

    async getJob(req) {
      const job = await jobs.get(req.jobId);
      if (!job) throw new ConclaveError(ErrorCode.NOT_FOUND, `no job ${req.jobId}`);
      if (!req.includeTranscript) return { job };
      const transcript = await jobs.transcript(req.jobId);
      return { job, ...(transcript ? { transcript } : {}) };
    },

    async listJobs(req) {
      return { jobs: await jobs.list(req.states, req.limit > 0 ? req.limit : 50) };
    },

    async cancelJob(req) {
      return { job: await jobs.cancel(req.jobId, req.reason) };
    },

    async listWorkers(req) {
      return { workers: registry.list(req.includeGone) };
    },

    async *watchWorkers(_req, ctx) {
      const queue: WatchWorkersResponse["update"][] = [];
      let wake: (() => void) | undefined;
      const push = (u: WatchWorkersResponse["update"]) => {
        queue.push(u);
        wake?.();
      };
      const onTransition = (t: RegistryTransition) =>
        push({
          case: "transition",
          value: {
            $typeName: "conclave.v1.WorkerTransition",
            workerId: t.workerId,
            from: toWireRegistryState(t.from),
            to: toWireRegistryState(t.to),
            reason: t.reason,
            atUnixMs: BigInt(Math.round(t.atMs)),
          },
        });
      registry.on("transition", onTransition);
      try {
        yield {
          update: {
            case: "snapshot",
            value: create(ListWorkersResponseSchema, { workers: registry.list(false) }),
          },
        };
        while (!ctx.signal.aborted) {
          while (queue.length > 0) yield { update: queue.shift()! };
          await new Promise<void>((resolve) => {
            wake = resolve;
            ctx.signal.addEventListener("abort", () => resolve(), { once: true });
          });
          wake = undefined;
        }
      } finally {
        registry.off("transition", onTransition);
      }
    },

    async drainWorker(req) {
      const problem = workerIdProblem(req.workerId);
      if (problem) throw new ConclaveError(ErrorCode.INVALID_ARGUMENT, problem);
      if (!registry.state.workers.has(req.workerId as never)) {
        throw new ConclaveError(
          ErrorCode.NOT_FOUND,
          `no live worker ${req.workerId} (see \`conclave workers\`)`,
        );
      }
      const reply = await deps.workers.drain(req.workerId, req.reason || "drain requested", req.graceMs);
      return { workerId: reply.workerId, accepted: reply.accepted, inFlight: reply.inFlight };
    },

    async previewPlan(req) {
      if (!req.request) throw new ConclaveError(ErrorCode.INVALID_ARGUMENT, "request is missing");
      return { plan: deps.previewPlan(req.request) };
    },
  };
}
