/**
 * gRPC server reflection (grpc.reflection.v1 and v1alpha), so grpcurl, Postman and friends can list and call
 * the coordinator's API without the .proto files.
 *
 * Why @grpc/reflection with a hand-built package definition: the package is the maintained grpc-node
 * implementation of both protocol versions, but it only understands a @grpc/proto-loader
 * PackageDefinition. Our services are protobuf-es descriptors, and the compiler's FileDescriptorProtos are
 * already embedded in the generated code (`DescFile.proto`), so we serialize those — the exact descriptors
 * buf produced, with their original file names and imports — rather than loading the .proto sources again
 * through protobufjs at run time (which would need the sources shipped and could drift from the generated
 * code). @grpc/reflection reads nothing from a package definition but each entry's `fileDescriptorProtos`
 * (decoded and deduplicated by file name), and it resolves a file's dependencies from the type references
 * inside the files, so every transitively imported file must be present: we include the full closure.
 */
import type { DescFile, DescService } from "@bufbuild/protobuf";
import { toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { ReflectionService } from "@grpc/reflection";
import { type GrpcServer, sealServices } from "./server.js";

/** The package definition type @grpc/reflection accepts (a @grpc/proto-loader PackageDefinition). */
export type ReflectionPackageDefinition = ConstructorParameters<typeof ReflectionService>[0];

/** Every file the given files need, each once, dependencies first. */
export function fileClosure(files: Iterable<DescFile>): DescFile[] {
  const seen = new Set<string>();
  const ordered: DescFile[] = [];
  const visit = (file: DescFile): void => {
    if (seen.has(file.name)) return;
    seen.add(file.name);
    for (const dependency of file.dependencies) visit(dependency);
    ordered.push(file);
  };
  for (const file of files) visit(file);
  return ordered;
}

/**
 * A proto-loader style package definition describing `services` and everything they import. proto-loader
 * itself writes one entry per type, each carrying the serialized files of the whole closure; @grpc/reflection
 * then decodes every file once per entry and protocol version (~1000 decodes for our API, 70–290 ms
 * measured on the 2-core dev machine, against 4–22 ms this way).
 * Here each file rides on exactly one entry — its first message or enum — so each is decoded once.
 */
export function reflectionPackageDefinition(services: Iterable<DescService>): ReflectionPackageDefinition {
  const definition: ReflectionPackageDefinition = {};
  const typeless: Buffer[] = [];
  let firstEntryFiles: Buffer[] | undefined;
  for (const file of fileClosure([...services].map((service) => service.file))) {
    // A DescFile's `proto` is the FileDescriptorProto buf produced; its name is the .proto path relative to
    // the module root (e.g. "conclave/v1/coordinator.proto"), the name reflection clients ask for.
    const bytes = Buffer.from(toBinary(FileDescriptorProtoSchema, file.proto));
    const fileDescriptorProtos = [bytes];
    const message = file.messages[0];
    const enumeration = file.enums[0];
    if (message !== undefined) {
      definition[message.typeName] = {
        format: "Protocol Buffer 3 DescriptorProto",
        type: message.proto,
        fileDescriptorProtos,
      };
    } else if (enumeration !== undefined) {
      definition[enumeration.typeName] = {
        format: "Protocol Buffer 3 EnumDescriptorProto",
        type: enumeration.proto,
        fileDescriptorProtos,
      };
    } else {
      typeless.push(bytes);
      continue;
    }
    firstEntryFiles ??= fileDescriptorProtos;
  }
  // A file declaring no types (services or options only) still has to be served: it rides along on any
  // entry. There is always one, since every method's request type lives somewhere in the closure.
  firstEntryFiles?.push(...typeless);
  return definition;
}

/**
 * Serve reflection (v1 and v1alpha) for every service added so far. Call it after the last `addService`:
 * it seals the server's service list, and adding another service afterwards fails instead of silently
 * leaving it out of the listing.
 */
export function addReflectionService(server: GrpcServer): void {
  const services = sealServices(server, "addReflectionService");
  const definition = reflectionPackageDefinition(services);
  // Only the services this server actually serves are listed; imported files may declare others.
  const reflection = new ReflectionService(definition, { services: services.map((s) => s.typeName) });
  reflection.addToServer(server.raw);
}
