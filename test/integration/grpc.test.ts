/**
 * The gRPC kit over real gRPC on 127.0.0.1 (port 0): typed unary and server-streaming calls on
 * conclave.v1.CoordinatorService, error mapping, cancellation, malformed bodies, health, reflection and
 * bearer-token auth. Foreign clients (raw bytes through a generic grpc-js client) check the wire itself.
 */
import { Writable } from "node:stream";
import { create, fromBinary } from "@bufbuild/protobuf";
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Client, credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../proto/gen/conclave/v1/common_pb.js";
import {
  CoordinatorService,
  type ListJobsRequest,
  ListJobsResponseSchema,
  type WatchJobRequest,
  WatchJobResponseSchema,
} from "../../proto/gen/conclave/v1/coordinator_pb.js";
import { JobEventSchema, JobSchema, JobState } from "../../proto/gen/conclave/v1/deliberation_pb.js";
import { Health } from "../../proto/gen/grpc/health/v1/health_pb.js";
import { ConclaveError, ErrorCode } from "../../proto/src/errors.js";
import {
  addHealthService,
  addReflectionService,
  addService,
  createGrpcClient,
  createGrpcServer,
  ERROR_INFO_METADATA_KEY,
  type GrpcServer,
  type HandlerContext,
  type HealthStatus,
  listen,
  ServingStatus,
  shutdownGrpcServer,
} from "../../proto/src/grpc/index.js";

const SECRET = "db password is hunter2";

/** Polls `check` until it holds; fails with `what` after `timeoutMs`. */
async function waitFor(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Resolves when the signal aborts (a handler that waits for the client to go away). */
function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error("expected the call to fail");
}

/** A generic grpc-js client that sends and receives raw bytes (a foreign client; nothing of ours). */
function rawClient(address: string): Client {
  return new Client(address, credentials.createInsecure());
}
const passthrough = (bytes: Buffer) => bytes;

function rawUnary(
  client: Client,
  path: string,
  body: Buffer,
  metadata = new Metadata(),
): Promise<ServiceError> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(path, passthrough, passthrough, body, metadata, {}, (err) => {
      if (err === null) reject(new Error("expected the call to fail"));
      else resolve(err);
    });
  });
}

/** Hand-encoded grpc.reflection.v1 messages (field numbers from reflection.proto; no codegen needed). */
function reflectionRequest(field: "file_containing_symbol" | "list_services", value: string): Buffer {
  const fieldNo = field === "file_containing_symbol" ? 4 : 7;
  return Buffer.from(new BinaryWriter().tag(fieldNo, WireType.LengthDelimited).string(value).finish());
}

interface ReflectionAnswer {
  services: string[];
  files: Uint8Array[];
  errorCode?: number;
}

function readReflectionResponse(bytes: Uint8Array): ReflectionAnswer {
  const answer: ReflectionAnswer = { services: [], files: [] };
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [fieldNo, wireType] = reader.tag();
    if (fieldNo === 4 || fieldNo === 6 || fieldNo === 7) {
      const inner = new BinaryReader(reader.bytes());
      while (inner.pos < inner.len) {
        const [innerNo, innerType] = inner.tag();
        if (fieldNo === 4 && innerNo === 1) answer.files.push(inner.bytes());
        else if (fieldNo === 6 && innerNo === 1) {
          const service = new BinaryReader(inner.bytes());
          while (service.pos < service.len) {
            const [no, type] = service.tag();
            if (no === 1) answer.services.push(service.string());
            else service.skip(type);
          }
        } else if (fieldNo === 7 && innerNo === 1) answer.errorCode = inner.int32();
        else inner.skip(innerType);
      }
    } else reader.skip(wireType);
  }
  return answer;
}

/** One request on a ServerReflectionInfo stream (v1 or v1alpha: the messages are the same). */
function reflect(client: Client, version: "v1" | "v1alpha", request: Buffer): Promise<ReflectionAnswer> {
  return new Promise((resolve, reject) => {
    const call = client.makeBidiStreamRequest(
      `/grpc.reflection.${version}.ServerReflection/ServerReflectionInfo`,
      passthrough,
      passthrough,
    );
    call.once("data", (bytes: Buffer) => {
      resolve(readReflectionResponse(bytes));
      call.end();
    });
    call.once("error", reject);
    call.write(request);
  });
}

describe("gRPC kit on CoordinatorService", () => {
  let server: GrpcServer;
  let health: HealthStatus;
  let address: string;
  const logLines: string[] = [];
  /** The abort signals the WatchJob handler saw, by job id. */
  const watchSignals = new Map<string, AbortSignal>();
  let unarySignal: AbortSignal | undefined;
  const abortCode = (jobId: string): ErrorCode | undefined => {
    const reason: unknown = watchSignals.get(jobId)?.reason;
    return reason instanceof ConclaveError ? reason.code : undefined;
  };

  beforeAll(async () => {
    const logStream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logLines.push(chunk.toString("utf8"));
        done();
      },
    });
    server = createGrpcServer({ logger: pino({ level: "debug" }, logStream) });
    addService(server, CoordinatorService, {
      async listJobs(request: ListJobsRequest, ctx: HandlerContext) {
        if (request.limit === 404) throw new ConclaveError(ErrorCode.NOT_FOUND, "no such page of jobs");
        if (request.limit === 500) throw new Error(SECRET);
        if (request.limit === 999) {
          unarySignal = ctx.signal;
          await aborted(ctx.signal);
        }
        const jobs = Array.from({ length: request.limit }, (_, i) =>
          create(JobSchema, { jobId: `job-${i + 1}`, state: request.states[0] ?? JobState.QUEUED }),
        );
        return create(ListJobsResponseSchema, { jobs });
      },
      async *watchJob(request: WatchJobRequest, ctx: HandlerContext) {
        watchSignals.set(request.jobId, ctx.signal);
        for (let sequence = request.fromSequence; sequence < request.fromSequence + 3n; sequence++) {
          yield create(WatchJobResponseSchema, {
            event: create(JobEventSchema, {
              jobId: request.jobId,
              sequence,
              event: { case: "log", value: { message: `event ${sequence}` } },
            }),
          });
        }
        if (request.jobId === "endless") await aborted(ctx.signal);
        if (request.jobId === "fails")
          throw new ConclaveError(ErrorCode.BUSY, "no slot left", { details: ["a"] });
      },
    });
    health = addHealthService(server);
    health.set(CoordinatorService.typeName, ServingStatus.SERVING);
    addReflectionService(server);
    const port = await listen(server, "127.0.0.1:0");
    address = `127.0.0.1:${port}`;
  });

  afterAll(async () => {
    health?.shutdown();
    if (server !== undefined) await shutdownGrpcServer(server, { graceMs: 2000 });
  });

  it("round-trips a unary call", async () => {
    const client = createGrpcClient(CoordinatorService, address);
    try {
      const response = await client.listJobs({ limit: 3, states: [JobState.RUNNING] });
      expect(response.jobs.map((job) => job.jobId)).toEqual(["job-1", "job-2", "job-3"]);
      expect(response.jobs.every((job) => job.state === JobState.RUNNING)).toBe(true);
    } finally {
      client.close();
    }
  });

  it("round-trips a server-streaming call to its end", async () => {
    const client = createGrpcClient(CoordinatorService, address);
    try {
      const sequences: bigint[] = [];
      for await (const response of client.watchJob({ jobId: "job-7", fromSequence: 5n })) {
        expect(response.event?.jobId).toBe("job-7");
        expect(response.event?.event.case).toBe("log");
        sequences.push(response.event?.sequence ?? 0n);
      }
      expect(sequences).toEqual([5n, 6n, 7n]);
    } finally {
      client.close();
    }
  });

  it("delivers a thrown ConclaveError with the same code and message", async () => {
    const client = createGrpcClient(CoordinatorService, address);
    try {
      const err = await rejectionOf(client.listJobs({ limit: 404 }));
      expect(err).toBeInstanceOf(ConclaveError);
      expect((err as ConclaveError).code).toBe(ErrorCode.NOT_FOUND);
      expect((err as ConclaveError).message).toBe("no such page of jobs");
    } finally {
      client.close();
    }
  });

  it("ends a stream with the generator's error after the messages it yielded", async () => {
    const client = createGrpcClient(CoordinatorService, address);
    try {
      let received = 0;
      const err = await rejectionOf(
        (async () => {
          for await (const _ of client.watchJob({ jobId: "fails", fromSequence: 1n })) received++;
        })(),
      );
      expect(received).toBe(3);
      expect(err).toBeInstanceOf(ConclaveError);
      expect((err as ConclaveError).code).toBe(ErrorCode.BUSY);
      expect((err as ConclaveError).details).toEqual(["a"]);
      expect((err as ConclaveError).retryable).toBe(true);
    } finally {
      client.close();
    }
  });

  it("sends an unknown error as `internal` with a generic message and logs the cause", async () => {
    const client = createGrpcClient(CoordinatorService, address);
    const raw = rawClient(address);
    try {
      const err = await rejectionOf(client.listJobs({ limit: 500 }));
      expect(err).toBeInstanceOf(ConclaveError);
      expect((err as ConclaveError).code).toBe(ErrorCode.INTERNAL);
      expect((err as ConclaveError).message).toBe("internal error");
      // What a foreign client sees on the wire: INTERNAL, and the secret nowhere (status or trailer).
      const wire = await rawUnary(
        raw,
        "/conclave.v1.CoordinatorService/ListJobs",
        Buffer.from([0x10, 0xf4, 0x03]), // limit = 500
      );
      expect(wire.code).toBe(status.INTERNAL);
      expect(wire.details).not.toContain("hunter2");
      const trailer = wire.metadata.get(ERROR_INFO_METADATA_KEY)[0];
      expect(Buffer.isBuffer(trailer)).toBe(true);
      expect(Buffer.from(trailer as Buffer).toString("latin1")).not.toContain("hunter2");
      await waitFor("the cause in the server log", () => logLines.some((line) => line.includes("hunter2")));
    } finally {
      client.close();
      raw.close();
    }
  });

  it("aborts the server generator's signal when the client cancels a stream", async () => {
    const client = createGrpcClient(CoordinatorService, address);
    try {
      const controller = new AbortController();
      let received = 0;
      const err = await rejectionOf(
        (async () => {
          for await (const _ of client.watchJob({ jobId: "endless" }, { signal: controller.signal })) {
            received++;
            if (received === 3) {
              expect(watchSignals.get("endless")?.aborted).toBe(false);
              controller.abort();
            }
          }
        })(),
      );
      expect((err as ConclaveError).code).toBe(ErrorCode.CANCELLED);
      await waitFor("the server's signal to abort", () => watchSignals.get("endless")?.aborted === true);
      expect(abortCode("endless")).toBe(ErrorCode.CANCELLED);
    } finally {
      client.close();
    }
  });

  it("aborts a unary handler's signal when the client cancels", async () => {
    const client = createGrpcClient(CoordinatorService, address);
    try {
      const controller = new AbortController();
      const pending = rejectionOf(client.listJobs({ limit: 999 }, { signal: controller.signal }));
      await waitFor("the handler to start", () => unarySignal !== undefined);
      expect(unarySignal?.aborted).toBe(false);
      controller.abort();
      expect(((await pending) as ConclaveError).code).toBe(ErrorCode.CANCELLED);
      await waitFor("the server's signal to abort", () => unarySignal?.aborted === true);
    } finally {
      client.close();
    }
  });

  it("cancels the call when the consumer stops iterating early", async () => {
    const client = createGrpcClient(CoordinatorService, address);
    try {
      watchSignals.delete("endless");
      for await (const response of client.watchJob({ jobId: "endless" })) {
        expect(response.event?.sequence).toBe(0n);
        break;
      }
      await waitFor("the server's signal to abort", () => watchSignals.get("endless")?.aborted === true);
    } finally {
      client.close();
    }
  });

  it("aborts the server's signal with deadline_exceeded when the client's deadline passes", async () => {
    const client = createGrpcClient(CoordinatorService, address);
    try {
      watchSignals.delete("endless");
      const err = await rejectionOf(
        (async () => {
          for await (const _ of client.watchJob({ jobId: "endless" }, { deadline: Date.now() + 300 })) {
            // drain
          }
        })(),
      );
      expect((err as ConclaveError).code).toBe(ErrorCode.DEADLINE_EXCEEDED);
      await waitFor("the server's signal to abort", () => watchSignals.get("endless")?.aborted === true);
      expect(abortCode("endless")).toBe(ErrorCode.DEADLINE_EXCEEDED);
    } finally {
      client.close();
    }
  });

  it("answers a malformed request body with INVALID_ARGUMENT", async () => {
    const raw = rawClient(address);
    try {
      // Field 1 (states, length-delimited) claims 16 bytes that never come.
      const err = await rawUnary(raw, "/conclave.v1.CoordinatorService/ListJobs", Buffer.from([0x0a, 0x10]));
      expect(err.code).toBe(status.INVALID_ARGUMENT);
      expect(err.details).toContain("conclave.v1.ListJobsRequest");
      const trailer = err.metadata.get(ERROR_INFO_METADATA_KEY)[0] as Buffer;
      expect(fromBinary(ErrorInfoSchema, trailer).code).toBe(ErrorCode.DECODE);
      // The server keeps serving.
      const client = createGrpcClient(CoordinatorService, address);
      await expect(client.listJobs({ limit: 1 })).resolves.toMatchObject({ jobs: [{ jobId: "job-1" }] });
      client.close();
    } finally {
      raw.close();
    }
  });

  it("answers UNIMPLEMENTED for a method without a handler", async () => {
    const client = createGrpcClient(CoordinatorService, address);
    try {
      const err = await rejectionOf(client.getJob({ jobId: "x" }));
      expect((err as ConclaveError).code).toBe(ErrorCode.UNSUPPORTED);
    } finally {
      client.close();
    }
  });

  it("answers health checks for the server, the service and unknown services", async () => {
    const client = createGrpcClient(Health, address);
    try {
      expect((await client.check({ service: "" })).status).toBe(ServingStatus.SERVING);
      expect((await client.check({ service: "conclave.v1.CoordinatorService" })).status).toBe(
        ServingStatus.SERVING,
      );
      const err = await rejectionOf(client.check({ service: "conclave.v1.NoSuchService" }));
      expect((err as ConclaveError).code).toBe(ErrorCode.NOT_FOUND);
    } finally {
      client.close();
    }
  });

  it("streams health status changes to a watcher", async () => {
    const client = createGrpcClient(Health, address);
    const service = "conclave.v1.CoordinatorService";
    try {
      const seen: ServingStatus[] = [];
      for await (const response of client.watch({ service })) {
        seen.push(response.status);
        if (seen.length === 1) health.set(service, ServingStatus.NOT_SERVING);
        if (seen.length === 2) break;
      }
      expect(seen).toEqual([ServingStatus.SERVING, ServingStatus.NOT_SERVING]);
      const unknown = client.watch({ service: "conclave.v1.Later" })[Symbol.asyncIterator]();
      expect((await unknown.next()).value?.status).toBe(ServingStatus.SERVICE_UNKNOWN);
      await unknown.return?.();
    } finally {
      health.set(service, ServingStatus.SERVING);
      client.close();
    }
  });

  it("lists services and returns file descriptors over reflection v1 and v1alpha", async () => {
    const raw = rawClient(address);
    try {
      for (const version of ["v1", "v1alpha"] as const) {
        const listing = await reflect(raw, version, reflectionRequest("list_services", "*"));
        expect(listing.services).toContain("conclave.v1.CoordinatorService");
        expect(listing.services).toContain("grpc.health.v1.Health");

        const found = await reflect(
          raw,
          version,
          reflectionRequest("file_containing_symbol", "conclave.v1.CoordinatorService"),
        );
        const files = found.files.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes));
        const first = files[0];
        expect(first?.name).toBe("conclave/v1/coordinator.proto");
        expect(first?.service.map((s) => s.name)).toContain("CoordinatorService");
        expect(first?.service[0]?.method.map((m) => m.name)).toContain("WatchJob");
        // Its imports come along, so a client can resolve every type.
        const names = files.map((file) => file.name);
        for (const dependency of first?.dependency ?? []) expect(names).toContain(dependency);

        const missing = await reflect(raw, version, reflectionRequest("file_containing_symbol", "no.Such"));
        expect(missing.errorCode).toBe(status.NOT_FOUND);
      }
    } finally {
      raw.close();
    }
  });

  it("refuses services added after reflection was built", () => {
    expect(() => addService(server, Health, {})).toThrow(ConclaveError);
  });
});

describe("gRPC kit with a bearer token", () => {
  const token = "s3cret-token";
  let server: GrpcServer;
  let address: string;

  beforeAll(async () => {
    server = createGrpcServer({ token });
    addService(server, CoordinatorService, {
      async listJobs(_request, ctx) {
        // The token was checked before the handler and is not handed on.
        return { jobs: [{ jobId: `only:${ctx.metadata.get("authorization").length}` }] };
      },
    });
    addHealthService(server);
    addReflectionService(server);
    address = `127.0.0.1:${await listen(server, "127.0.0.1:0")}`;
  });

  afterAll(async () => {
    if (server !== undefined) await shutdownGrpcServer(server, { graceMs: 2000 });
  });

  it("rejects a missing or wrong token with UNAUTHENTICATED", async () => {
    for (const options of [{}, { token: "wrong-token" }, { token: `${token}x` }]) {
      const client = createGrpcClient(CoordinatorService, address, options);
      try {
        const err = await rejectionOf(client.listJobs({}));
        expect(err).toBeInstanceOf(ConclaveError);
        expect((err as ConclaveError).code).toBe(ErrorCode.UNAUTHENTICATED);
      } finally {
        client.close();
      }
    }
    const raw = rawClient(address);
    try {
      const metadata = new Metadata();
      metadata.set("authorization", `Basic ${token}`);
      const err = await rawUnary(raw, "/conclave.v1.CoordinatorService/ListJobs", Buffer.alloc(0), metadata);
      expect(err.code).toBe(status.UNAUTHENTICATED);
      // Reflection is behind the token too.
      await expect(reflect(raw, "v1", reflectionRequest("list_services", "*"))).rejects.toMatchObject({
        code: status.UNAUTHENTICATED,
      });
    } finally {
      raw.close();
    }
  });

  it("accepts the right token, and health without one", async () => {
    const client = createGrpcClient(CoordinatorService, address, { token });
    const healthClient = createGrpcClient(Health, address);
    try {
      expect((await client.listJobs({})).jobs.map((job) => job.jobId)).toEqual(["only:0"]);
      expect((await healthClient.check({ service: "" })).status).toBe(ServingStatus.SERVING);
    } finally {
      client.close();
      healthClient.close();
    }
  });
});

describe("gRPC server shutdown", () => {
  it("cancels streams still running after the grace period", async () => {
    const server = createGrpcServer();
    let signal: AbortSignal | undefined;
    addService(server, CoordinatorService, {
      async *watchWorkers(_request, ctx) {
        signal = ctx.signal;
        yield {};
        await aborted(ctx.signal);
      },
    });
    const address = `127.0.0.1:${await listen(server, "127.0.0.1:0")}`;
    const client = createGrpcClient(CoordinatorService, address);
    try {
      const stream = client.watchWorkers({})[Symbol.asyncIterator]();
      await stream.next();
      const ending = rejectionOf(stream.next());
      await shutdownGrpcServer(server, { graceMs: 100 });
      expect(signal?.aborted).toBe(true);
      expect(await ending).toBeInstanceOf(ConclaveError);
    } finally {
      client.close();
    }
  });
});
