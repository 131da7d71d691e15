/**
 * Type-level checks of the kit's descriptor-derived types (verified by `tsc`; the runtime part only
 * confirms the shapes exist).
 */
import type { MessageShape } from "@bufbuild/protobuf";
import { describe, expectTypeOf, it } from "vitest";
import type {
  CoordinatorService,
  ListJobsResponseSchema,
  WatchJobResponseSchema,
} from "../../proto/gen/conclave/v1/coordinator_pb.js";
import type {
  CallOptions,
  GrpcClient,
  ServiceImpl,
  SupportedMethodName,
} from "../../proto/src/grpc/types.js";

type Coordinator = typeof CoordinatorService;

describe("descriptor-derived types", () => {
  it("types client methods from the descriptor", () => {
    type Client = GrpcClient<Coordinator>;
    expectTypeOf<ReturnType<Client["listJobs"]>>().toEqualTypeOf<
      Promise<MessageShape<typeof ListJobsResponseSchema>>
    >();
    expectTypeOf<ReturnType<Client["watchJob"]>>().toEqualTypeOf<
      AsyncIterable<MessageShape<typeof WatchJobResponseSchema>>
    >();
    expectTypeOf<Parameters<Client["listJobs"]>[1]>().toEqualTypeOf<CallOptions | undefined>();
    expectTypeOf<SupportedMethodName<Coordinator>>().toEqualTypeOf<
      | "submitJob"
      | "watchJob"
      | "getJob"
      | "listJobs"
      | "cancelJob"
      | "listWorkers"
      | "watchWorkers"
      | "drainWorker"
      | "previewPlan"
    >();
  });

  it("rejects handlers of the wrong shape", () => {
    const check = (_impl: Partial<ServiceImpl<Coordinator>>) => {};
    check({
      async listJobs() {
        return { jobs: [] };
      },
    });
    check({
      // @ts-expect-error a unary handler must not be a generator
      async *listJobs() {
        yield { jobs: [] };
      },
    });
    check({
      // @ts-expect-error a field the response does not have
      async listJobs() {
        return { workers: [] };
      },
    });
    check({
      // @ts-expect-error not a method of the service
      async listJob() {
        return {};
      },
    });
  });
});
