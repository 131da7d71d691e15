/**
 * Thin typed I/O over NATS: publish a protobuf message with its type header, subscribe with a codec (a
 * malformed payload is reported and answered, never crashes the subscriber), request/reply with typed
 * replies. Subjects come from subjects.ts; nothing here spells one.
 */
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import {
  connect,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type NodeConnectionOptions,
  headers as natsHeaders,
  type Subscription,
} from "@nats-io/transport-node";
import { type Codec, TYPE_HEADER } from "./codec.js";
import { ConclaveError, ErrorCode, toConclaveError } from "./errors.js";

export type { Msg, NatsConnection, Subscription };

/**
 * The type header of each message type, built once: every request, chunk, result and telemetry report
 * carries one, and nats.js only reads a publish's headers (it encodes them; it adds to them only for
 * message tracing, which nothing here asks for). Never modify one of these.
 */
const headersByType = new Map<string, MsgHdrs>();

function typedHeaders(typeName: string): MsgHdrs {
  let h = headersByType.get(typeName);
  if (h === undefined) {
    h = natsHeaders();
    h.set(TYPE_HEADER, typeName);
    headersByType.set(typeName, h);
  }
  return h;
}

/** Publishes one message; `reply` makes it a request whose answers go to that subject. */
export function publishMessage<D extends DescMessage>(
  nc: NatsConnection,
  subject: string,
  codec: Codec<D>,
  message: MessageShape<D>,
  reply?: string,
): void {
  nc.publish(subject, codec.encode(message), {
    headers: typedHeaders(codec.typeName),
    ...(reply ? { reply } : {}),
  });
}

/**
 * Publishes a payload that is already the protobuf encoding of a `typeName` message (a sender that keeps
 * parts of its messages encoded), with the same type header publishMessage sets.
 */
export function publishEncoded(
  nc: NatsConnection,
  subject: string,
  typeName: string,
  payload: Uint8Array,
): void {
  nc.publish(subject, payload, { headers: typedHeaders(typeName) });
}

/** Answers a request message with a typed reply (no-op when the sender asked for no reply). */
export function respondMessage<D extends DescMessage>(
  msg: Msg,
  codec: Codec<D>,
  message: MessageShape<D>,
): boolean {
  if (!msg.reply) return false;
  return msg.respond(codec.encode(message), { headers: typedHeaders(codec.typeName) });
}

/** Decodes a received message with its type header. @throws DecodeError */
export function decodeMessage<D extends DescMessage>(msg: Msg, codec: Codec<D>): MessageShape<D> {
  return codec.decode(msg.data, msg.headers?.get(TYPE_HEADER));
}

export interface TypedSubscriptionOptions<D extends DescMessage> {
  /** Handles a valid message. A thrown error or rejected promise goes to onError; the subscription lives on. */
  onMessage(message: MessageShape<D>, msg: Msg): void | Promise<void>;
  /** A payload that did not decode, or a handler failure. */
  onError(err: ConclaveError, msg: Msg): void;
  queue?: string;
}

/**
 * Subscribes with a codec. Decode errors and handler failures are passed to onError; the subscriber keeps
 * running whatever arrives.
 */
export function subscribeTyped<D extends DescMessage>(
  nc: NatsConnection,
  subject: string,
  codec: Codec<D>,
  options: TypedSubscriptionOptions<D>,
): Subscription {
  return nc.subscribe(subject, {
    ...(options.queue ? { queue: options.queue } : {}),
    callback: (err, msg) => {
      if (err) {
        options.onError(toConclaveError(err), msg);
        return;
      }
      let message: MessageShape<D>;
      try {
        message = decodeMessage(msg, codec);
      } catch (decodeErr) {
        options.onError(toConclaveError(decodeErr), msg);
        return;
      }
      try {
        const result = options.onMessage(message, msg);
        if (result instanceof Promise) result.catch((e: unknown) => options.onError(toConclaveError(e), msg));
      } catch (handlerErr) {
        options.onError(toConclaveError(handlerErr), msg);
      }
    },
  });
}

/**
 * Sends a request and decodes the single typed reply. No responder → `unavailable`; time-out →
 * `deadline_exceeded`.
 */
export async function requestTyped<Req extends DescMessage, Res extends DescMessage>(
  nc: NatsConnection,
  subject: string,
  requestCodec: Codec<Req>,
  message: MessageShape<Req>,
  replyCodec: Codec<Res>,
  timeoutMs: number,
): Promise<MessageShape<Res>> {
  let reply: Msg;
  try {
    reply = await nc.request(subject, requestCodec.encode(message), {
      timeout: timeoutMs,
      headers: typedHeaders(requestCodec.typeName),
    });
  } catch (err) {
    throw natsRequestError(err, subject, timeoutMs);
  }
  return decodeMessage(reply, replyCodec);
}

/** Maps nats.js request failures onto our error codes. */
export function natsRequestError(err: unknown, subject: string, timeoutMs: number): ConclaveError {
  const name = err instanceof Error ? err.name : "";
  const text = err instanceof Error ? err.message : String(err);
  if (name === "NoRespondersError" || /no responders/i.test(text))
    return new ConclaveError(ErrorCode.UNAVAILABLE, `nobody is serving ${subject}`, { cause: err });
  if (name === "TimeoutError" || /timeout/i.test(text))
    return new ConclaveError(ErrorCode.DEADLINE_EXCEEDED, `no reply on ${subject} within ${timeoutMs} ms`, {
      cause: err,
    });
  if (/closed|disconnect/i.test(text))
    return new ConclaveError(ErrorCode.UNAVAILABLE, `NATS connection lost while waiting on ${subject}`, {
      cause: err,
    });
  return toConclaveError(err);
}

/** Connection settings every Conclave process uses: reconnect forever, with jitter, and a name. */
export interface NatsConnectOptions {
  servers: string | string[];
  name: string;
  /** Token, user/password or creds are passed through; never logged. */
  token?: string;
  user?: string;
  pass?: string;
  /** How long the first connection attempt may take. @default 5000 */
  timeoutMs?: number;
}

export async function connectNats(options: NatsConnectOptions): Promise<NatsConnection> {
  const opts: NodeConnectionOptions = {
    servers: options.servers,
    name: options.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    reconnectJitter: 250,
    timeout: options.timeoutMs ?? 5000,
    // nats.js otherwise builds an Error with a captured stack for every request and timer (JetStream
    // publishes included), only to improve a timeout's trace: a measurable share of a busy coordinator's
    // CPU. Our errors say which request failed without it.
    noAsyncTraces: true,
    ...(options.token ? { token: options.token } : {}),
    ...(options.user ? { user: options.user, pass: options.pass ?? "" } : {}),
  };
  try {
    return await connect(opts);
  } catch (err) {
    const servers = Array.isArray(options.servers) ? options.servers.join(", ") : options.servers;
    const why = err instanceof Error ? err.message : String(err);
    throw new ConclaveError(ErrorCode.UNAVAILABLE, `cannot reach NATS at ${servers}: ${why}`, {
      cause: err,
    });
  }
}
