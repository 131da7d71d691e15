/** One codec per message that crosses NATS, with its validator. */
import {
  CancelRequestSchema,
  InferenceFrameSchema,
  InferenceRequestSchema,
  ScoreReplySchema,
  ScoreRequestSchema,
} from "../gen/conclave/v1/inference_pb.js";
import {
  DiscoverRequestSchema,
  DrainReplySchema,
  DrainRequestSchema,
  WorkerTelemetrySchema,
} from "../gen/conclave/v1/telemetry_pb.js";
import { createCodec } from "./codec.js";
import {
  validateCancelRequest,
  validateInferenceFrame,
  validateInferenceRequest,
  validateScoreReply,
  validateScoreRequest,
  validateTelemetry,
} from "./validate.js";

export const codecs = {
  telemetry: createCodec(WorkerTelemetrySchema, validateTelemetry),
  discover: createCodec(DiscoverRequestSchema),
  inferenceRequest: createCodec(InferenceRequestSchema, validateInferenceRequest),
  inferenceFrame: createCodec(InferenceFrameSchema, validateInferenceFrame),
  scoreRequest: createCodec(ScoreRequestSchema, validateScoreRequest),
  scoreReply: createCodec(ScoreReplySchema, validateScoreReply),
  cancel: createCodec(CancelRequestSchema, validateCancelRequest),
  drainRequest: createCodec(DrainRequestSchema),
  drainReply: createCodec(DrainReplySchema),
} as const;
