import { create, equals } from "@bufbuild/protobuf";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WorkerState, WorkerTelemetrySchema } from "../../proto/gen/conclave/v1/telemetry_pb.js";
import { createCodec } from "../../proto/src/codec.js";
import { codecs } from "../../proto/src/codecs.js";
import { type ConclaveError, DecodeError } from "../../proto/src/errors.js";
import {
  connectNats,
  type NatsConnection,
  publishMessage,
  requestTyped,
  respondMessage,
  subscribeTyped,
} from "../../proto/src/nats-io.js";
import { subjects } from "../../proto/src/subjects.js";
import { allMessageSchemas } from "../support/all-messages.js";
import { arbitraryMessage } from "../support/arbitrary-message.js";
import { type NatsServerHandle, startNatsServer } from "../support/nats-server.js";
import { pollUntil } from "../support/poll.js";

let server: NatsServerHandle;
let nc: NatsConnection;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectNats({ servers: server.url, name: "codec-test" });
});

afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

describe("protobuf over a real nats-server", () => {
  it("delivers every message type of the contract unchanged", async () => {
    for (const schema of allMessageSchemas()) {
      const codec = createCodec(schema);
      const samples = fc.sample(arbitraryMessage(schema), { numRuns: 5, seed: 42 });
      const subject = `conclave.v1.test.${schema.typeName.replace(/\./g, "_")}`;
      const received: unknown[] = [];
      const errors: ConclaveError[] = [];
      const sub = subscribeTyped(nc, subject, codec, {
        onMessage: (m) => {
          received.push(m);
        },
        onError: (e) => {
          errors.push(e);
        },
      });
      for (const sample of samples) publishMessage(nc, subject, codec, sample);
      await nc.flush();
      await pollUntil(
        `${samples.length} ${schema.typeName} messages`,
        () => received.length === samples.length,
      );
      sub.unsubscribe();
      expect(errors).toEqual([]);
      samples.forEach((sample, i) => {
        expect(equals(schema, received[i] as typeof sample, sample), schema.typeName).toBe(true);
      });
    }
  });

  it("reports garbage bytes as a typed decode error and keeps the subscriber running", async () => {
    const subject = subjects.telemetry("garbage-test");
    const good: string[] = [];
    const errors: ConclaveError[] = [];
    const sub = subscribeTyped(nc, subject, codecs.telemetry, {
      onMessage: (m) => {
        good.push(m.workerId);
      },
      onError: (e) => {
        errors.push(e);
      },
    });
    const valid = create(WorkerTelemetrySchema, {
      workerId: "garbage-test",
      state: WorkerState.READY,
      model: { name: "m" },
      slots: { total: 1 },
    });
    nc.publish(subject, new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]));
    nc.publish(subject, new TextEncoder().encode("hello, I am not protobuf"));
    publishMessage(nc, subject, codecs.discover, create(codecs.discover.schema, { requester: "x" }));
    publishMessage(nc, subject, codecs.telemetry, valid);
    await pollUntil("the valid message after the garbage", () => good.length === 1);
    sub.unsubscribe();
    expect(good).toEqual(["garbage-test"]);
    expect(errors).toHaveLength(3);
    for (const e of errors) {
      expect(e).toBeInstanceOf(DecodeError);
      expect((e as DecodeError).typeName).toBe("conclave.v1.WorkerTelemetry");
    }
    expect(errors[2]?.message).toMatch(/payload is a conclave\.v1\.DiscoverRequest/);
  });

  it("does typed request/reply, and says plainly when nobody answers", async () => {
    const subject = subjects.worker("rr-test", "drain");
    const sub = subscribeTyped(nc, subject, codecs.drainRequest, {
      onMessage: (req, msg) => {
        respondMessage(
          msg,
          codecs.drainReply,
          create(codecs.drainReply.schema, { workerId: "rr-test", accepted: req.reason === "maintenance" }),
        );
      },
      onError: () => {},
    });
    const reply = await requestTyped(
      nc,
      subject,
      codecs.drainRequest,
      create(codecs.drainRequest.schema, { reason: "maintenance" }),
      codecs.drainReply,
      2000,
    );
    expect(reply.accepted).toBe(true);
    sub.unsubscribe();
    await expect(
      requestTyped(
        nc,
        subjects.worker("nobody-home", "drain"),
        codecs.drainRequest,
        create(codecs.drainRequest.schema, {}),
        codecs.drainReply,
        2000,
      ),
    ).rejects.toMatchObject({ codeName: "unavailable" });
  });

  it("fails to connect with a clear unavailable error", async () => {
    await expect(connectNats({ servers: "nats://127.0.0.1:1", name: "x", timeoutMs: 500 })).rejects.toThrow(
      /cannot reach NATS at nats:\/\/127\.0\.0\.1:1/,
    );
  });
});
