/**
 * The standard gRPC health service (grpc.health.v1.Health), backed by a status map the application updates:
 * `""` stands for the whole server, other keys are fully-qualified service names. Generic probes
 * (grpc_health_probe, Kubernetes, load balancers) understand it without knowing anything about Conclave.
 */
import { create } from "@bufbuild/protobuf";
import {
  Health,
  type HealthCheckRequest,
  type HealthCheckResponse,
  HealthCheckResponse_ServingStatus,
  HealthCheckResponseSchema,
} from "../../gen/grpc/health/v1/health_pb.js";
import { ConclaveError, ErrorCode } from "../errors.js";
import { addService, type GrpcServer } from "./server.js";
import type { HandlerContext, ServiceImpl } from "./types.js";

export { HealthCheckResponse_ServingStatus as ServingStatus };

export interface HealthStatusOptions {
  /**
   * Initial statuses by service name.
   * @default { "": SERVING } — the process answers, so the server as a whole is serving.
   */
  initial?: Readonly<Record<string, HealthCheckResponse_ServingStatus>> | undefined;
}

/**
 * The status map. `set` wakes every Watch stream; `shutdown` marks everything NOT_SERVING for good and ends
 * the Watch streams after they have said so, so a graceful server shutdown is not held up by watchers.
 */
export class HealthStatus {
  readonly #statuses = new Map<string, HealthCheckResponse_ServingStatus>();
  #version = 0;
  #closed = false;
  #waiters = new Set<() => void>();

  constructor(options: HealthStatusOptions = {}) {
    const initial = options.initial ?? { "": HealthCheckResponse_ServingStatus.SERVING };
    for (const [service, status] of Object.entries(initial)) this.#statuses.set(service, status);
  }

  /** The status of a service, or undefined when it was never set. */
  get(service: string): HealthCheckResponse_ServingStatus | undefined {
    return this.#statuses.get(service);
  }

  /** Set a service's status (`""` = the whole server). Ignored after `shutdown`. */
  set(service: string, status: HealthCheckResponse_ServingStatus): void {
    if (this.#closed || this.#statuses.get(service) === status) return;
    this.#statuses.set(service, status);
    this.#changed();
  }

  /** Mark every service NOT_SERVING, for good, and end Watch streams once they have reported it. */
  shutdown(): void {
    if (this.#closed) return;
    for (const service of this.#statuses.keys()) {
      this.#statuses.set(service, HealthCheckResponse_ServingStatus.NOT_SERVING);
    }
    this.#closed = true;
    this.#changed();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** A counter that moves on every change; pass it to `changedSince` to wait for the next one. */
  get version(): number {
    return this.#version;
  }

  /** Resolves once the map changed after `version`, or when `signal` aborts. */
  changedSince(version: number, signal: AbortSignal): Promise<void> {
    if (this.#version !== version || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        this.#waiters.delete(wake);
        signal.removeEventListener("abort", wake);
        resolve();
      };
      this.#waiters.add(wake);
      signal.addEventListener("abort", wake, { once: true });
    });
  }

  #changed(): void {
    this.#version += 1;
    for (const wake of [...this.#waiters]) wake();
  }
}

function response(status: HealthCheckResponse_ServingStatus): HealthCheckResponse {
  return create(HealthCheckResponseSchema, { status });
}

/** Health handlers over a status map (exported for callers that mount the service themselves). */
export function healthImpl(health: HealthStatus): ServiceImpl<typeof Health> {
  return {
    async check(request: HealthCheckRequest) {
      const status = health.get(request.service);
      if (status === undefined) {
        throw new ConclaveError(ErrorCode.NOT_FOUND, `unknown service "${request.service}"`);
      }
      return response(status);
    },
    // Per the protocol: answer at once with the current status (SERVICE_UNKNOWN for an unknown service,
    // which is not an error here since it may appear later), then on every change. Intermediate states
    // may be coalesced; the latest one is always delivered.
    async *watch(request: HealthCheckRequest, ctx: HandlerContext) {
      let last: HealthCheckResponse_ServingStatus | undefined;
      while (!ctx.signal.aborted) {
        // Read together: `closed` must describe the same snapshot as `status`, so the final NOT_SERVING
        // is sent before the stream ends.
        const version = health.version;
        const closed = health.closed;
        const status = health.get(request.service) ?? HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN;
        if (status !== last) {
          yield response(status);
          last = status;
        }
        if (closed) return;
        await health.changedSince(version, ctx.signal);
      }
    },
  };
}

/** Serve grpc.health.v1.Health from `health` (a new map with `""` SERVING when omitted). */
export function addHealthService(
  server: GrpcServer,
  health: HealthStatus = new HealthStatus(),
): HealthStatus {
  addService(server, Health, healthImpl(health));
  return health;
}
