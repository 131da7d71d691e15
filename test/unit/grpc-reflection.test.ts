import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { CoordinatorService } from "../../proto/gen/conclave/v1/coordinator_pb.js";
import { Health } from "../../proto/gen/grpc/health/v1/health_pb.js";
import { fileClosure, reflectionPackageDefinition } from "../../proto/src/grpc/reflection.js";

describe("reflection package definition", () => {
  it("orders the file closure dependencies first, each file once", () => {
    const files = fileClosure([CoordinatorService.file, Health.file, CoordinatorService.file]);
    const names = files.map((f) => f.proto.name);
    expect(new Set(names).size).toBe(names.length);
    for (const [i, file] of files.entries()) {
      for (const dependency of file.dependencies)
        expect(names.indexOf(dependency.proto.name)).toBeLessThan(i);
    }
    expect(names).toContain("conclave/v1/coordinator.proto");
    expect(names).toContain("conclave/v1/common.proto");
    expect(names.at(-1)).toBe("grpc/health/v1/health.proto");
  });

  it("carries every file of the closure exactly once, as the compiler's descriptor", () => {
    const definition = reflectionPackageDefinition([CoordinatorService, Health]);
    const carried = Object.values(definition).flatMap((entry) => {
      const files: unknown = (entry as { fileDescriptorProtos?: unknown }).fileDescriptorProtos;
      return Array.isArray(files) ? files.filter((file): file is Buffer => Buffer.isBuffer(file)) : [];
    });
    const names = carried.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name);
    expect(names.sort()).toEqual(
      fileClosure([CoordinatorService.file, Health.file])
        .map((f) => f.proto.name)
        .sort(),
    );
    const coordinator = carried
      .map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes))
      .find((file) => file.name === "conclave/v1/coordinator.proto");
    expect(coordinator?.service[0]?.name).toBe("CoordinatorService");
    expect(coordinator?.dependency).toEqual(CoordinatorService.file.proto.dependency);
  });
});
