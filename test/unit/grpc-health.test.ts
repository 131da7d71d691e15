import { create } from "@bufbuild/protobuf";
import { Metadata } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { Health, HealthCheckRequestSchema } from "../../proto/gen/grpc/health/v1/health_pb.js";
import { ConclaveError, ErrorCode } from "../../proto/src/errors.js";
import { HealthStatus, healthImpl, ServingStatus } from "../../proto/src/grpc/health.js";
import type { HandlerContext } from "../../proto/src/grpc/types.js";

function contextWith(signal: AbortSignal): HandlerContext {
  return { signal, metadata: new Metadata(), deadline: undefined, peer: "test", method: Health.method.watch };
}

const request = (service: string) => create(HealthCheckRequestSchema, { service });

describe("health status map and handlers", () => {
  it("starts with the server serving and nothing else known", async () => {
    const impl = healthImpl(new HealthStatus());
    const controller = new AbortController();
    expect((await impl.check(request(""), contextWith(controller.signal))).status).toBe(
      ServingStatus.SERVING,
    );
    await expect(impl.check(request("x.Y"), contextWith(controller.signal))).rejects.toMatchObject({
      code: ErrorCode.NOT_FOUND,
    });
    await expect(impl.check(request("x.Y"), contextWith(controller.signal))).rejects.toBeInstanceOf(
      ConclaveError,
    );
  });

  it("streams the current status, then each change, and ends after shutdown", async () => {
    const health = new HealthStatus({ initial: {} });
    const controller = new AbortController();
    const watch = healthImpl(health)
      .watch(request("a.B"), contextWith(controller.signal))
      [Symbol.asyncIterator]();
    expect((await watch.next()).value).toMatchObject({ status: ServingStatus.SERVICE_UNKNOWN });
    const next = watch.next();
    health.set("a.B", ServingStatus.SERVING);
    expect((await next).value).toMatchObject({ status: ServingStatus.SERVING });
    // Setting the same status again is not a change.
    health.set("a.B", ServingStatus.SERVING);
    health.shutdown();
    expect((await watch.next()).value).toMatchObject({ status: ServingStatus.NOT_SERVING });
    expect((await watch.next()).done).toBe(true);
    // After shutdown the map is frozen.
    health.set("a.B", ServingStatus.SERVING);
    expect(health.get("a.B")).toBe(ServingStatus.NOT_SERVING);
  });

  it("ends a watch when its call is aborted", async () => {
    const health = new HealthStatus();
    const controller = new AbortController();
    const watch = healthImpl(health)
      .watch(request(""), contextWith(controller.signal))
      [Symbol.asyncIterator]();
    expect((await watch.next()).value).toMatchObject({ status: ServingStatus.SERVING });
    const next = watch.next();
    controller.abort();
    expect((await next).done).toBe(true);
  });
});
