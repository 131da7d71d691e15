/**
 * Reads a request body up to a byte limit. A declared Content-Length over the limit is refused before a
 * byte is read; a chunked body is refused the moment it crosses the limit. What the client still sends is
 * read and dropped (so it can read the 413 instead of a connection reset) up to a bound, then the
 * connection is cut.
 */
import type { IncomingMessage } from "node:http";
import { HttpError } from "./http-errors.js";

/** Bytes of an over-limit body read and dropped after the 413, as a multiple of the limit, before the cut. */
const DISCARD_FACTOR = 8;

function tooLarge(limitBytes: number): HttpError {
  return new HttpError(
    413,
    "request_too_large",
    `the request body is larger than ${limitBytes} bytes; send a shorter conversation`,
    { headers: { connection: "close" } },
  );
}

/** Drops the rest of an over-limit body, cutting the connection once it exceeds the discard bound. */
function discardRest(req: IncomingMessage, limitBytes: number): void {
  let dropped = 0;
  req.removeAllListeners("data");
  req.on("data", (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > limitBytes * DISCARD_FACTOR) req.socket.destroy();
  });
  req.resume();
}

export async function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? Number.NaN);
  if (Number.isFinite(declared) && declared > limitBytes) {
    discardRest(req, limitBytes);
    throw tooLarge(limitBytes);
  }
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) {
        cleanup();
        discardRest(req, limitBytes);
        reject(tooLarge(limitBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(new HttpError(400, "invalid_request", `could not read the request body: ${err.message}`));
    };
    const onClose = () => {
      // `close` before `end`: the client went away mid-body; nobody is left to answer.
      cleanup();
      reject(new HttpError(400, "invalid_request", "the client closed the connection before the body ended"));
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
  });
}
