/**
 * A protobuf-es service descriptor as a grpc-js ServiceDefinition: paths, streaming flags and serializers
 * (protobuf-es toBinary/fromBinary), so grpc-js never needs protobufjs or proto-loader for our services.
 */
import {
  type DescMessage,
  type DescMethod,
  type DescService,
  fromBinary,
  type Message,
  toBinary,
} from "@bufbuild/protobuf";
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";
import { DecodeError } from "../errors.js";
import type { SupportedMethodKind } from "./types.js";

/**
 * What the request deserializer yields for bytes that are not the expected message. grpc-js answers a
 * throwing deserializer with INTERNAL, which blames the server for the client's bytes; handing the handler
 * this marker instead lets it answer INVALID_ARGUMENT (our `decode_error`) with a useful message.
 */
export class MalformedRequest {
  constructor(readonly error: DecodeError) {}
}

/** The HTTP/2 path of a method, e.g. `/conclave.v1.CoordinatorService/ListJobs`. */
export function methodPath(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}

export function isSupportedMethod(method: DescMethod): method is DescMethod & {
  methodKind: SupportedMethodKind;
} {
  return method.methodKind === "unary" || method.methodKind === "server_streaming";
}

/** Encodes a message without copying (grpc-js wants a Buffer; a Buffer view over the same bytes is one). */
export function serializeMessage(schema: DescMessage, message: Message): Buffer {
  const bytes = toBinary(schema, message);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Decodes a message; bytes that are not one become a MalformedRequest, never an exception. */
export function deserializeRequest(schema: DescMessage, bytes: Uint8Array): Message | MalformedRequest {
  try {
    // Unknown fields are dropped: a newer client's additions mean nothing to this server.
    return fromBinary(schema, bytes, { readUnknownFields: false });
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause);
    return new MalformedRequest(
      new DecodeError(schema.typeName, `malformed ${schema.typeName} (${bytes.length} bytes): ${why}`, {
        cause,
      }),
    );
  }
}

/** The grpc-js definition of one method. Responses that fail to decode throw (grpc-js reports INTERNAL). */
export function methodDefinitionOf(method: DescMethod): MethodDefinition<Message, Message> {
  return {
    path: methodPath(method),
    requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
    responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
    requestSerialize: (message) => serializeMessage(method.input, message),
    // The server side may receive a MalformedRequest here instead of a message (see above); the handler
    // wrappers check for it before the request reaches user code.
    requestDeserialize: (bytes) => deserializeRequest(method.input, bytes) as Message,
    responseSerialize: (message) => serializeMessage(method.output, message),
    responseDeserialize: (bytes) => fromBinary(method.output, bytes),
    originalName: method.localName,
  };
}

/**
 * The grpc-js definition of a service's supported methods (unary and server streaming), keyed by the
 * protobuf method name (`ListJobs`). Other kinds are left out, so a call to one answers UNIMPLEMENTED.
 */
export function serviceDefinitionOf(service: DescService): ServiceDefinition {
  const definition: Record<string, MethodDefinition<Message, Message>> = {};
  for (const method of service.methods) {
    if (isSupportedMethod(method)) definition[method.name] = methodDefinitionOf(method);
  }
  return definition;
}
