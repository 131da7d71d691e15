/**
 * Typed codecs for protobuf payloads on NATS. Decoding never throws anything but a DecodeError: bytes that
 * are not valid protobuf, a type header naming another message, or a message that parses but breaks the
 * type's invariants (an empty worker id, an inference request without input, ...) all become one typed
 * error that lists every problem, so a subscriber can log it, answer it, and keep running.
 */
import { type DescMessage, fromBinary, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { DecodeError } from "./errors.js";

/** NATS header naming the payload's protobuf type, e.g. `conclave.v1.WorkerTelemetry`. */
export const TYPE_HEADER = "Conclave-Type";

/** Returns every problem with a decoded message (empty when it is valid). */
export type Validator<T> = (message: T) => string[];

export interface Codec<Desc extends DescMessage> {
  readonly schema: Desc;
  /** Fully-qualified protobuf type name. */
  readonly typeName: string;
  encode(message: MessageShape<Desc>): Uint8Array;
  /**
   * @param typeHeader the payload's type header when the transport carried one; a header naming another
   * type is rejected, a missing header is accepted (peers in other languages may not send it).
   * @throws DecodeError
   */
  decode(bytes: Uint8Array, typeHeader?: string): MessageShape<Desc>;
}

export function createCodec<Desc extends DescMessage>(
  schema: Desc,
  validate?: Validator<MessageShape<Desc>>,
): Codec<Desc> {
  const typeName = schema.typeName;
  return {
    schema,
    typeName,
    encode(message) {
      return toBinary(schema, message);
    },
    decode(bytes, typeHeader) {
      if (typeHeader !== undefined && typeHeader !== "" && typeHeader !== typeName) {
        throw new DecodeError(typeName, `expected a ${typeName} but the payload is a ${typeHeader}`);
      }
      let message: MessageShape<Desc>;
      try {
        message = fromBinary(schema, bytes, { readUnknownFields: false });
      } catch (cause) {
        const why = cause instanceof Error ? cause.message : String(cause);
        throw new DecodeError(typeName, `malformed ${typeName} (${bytes.length} bytes): ${why}`, { cause });
      }
      const problems = validate?.(message) ?? [];
      if (problems.length > 0) {
        throw new DecodeError(typeName, `invalid ${typeName}: ${problems.join("; ")}`, { details: problems });
      }
      return message;
    },
  };
}
