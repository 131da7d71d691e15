/** The coordinator's OpenAI-compatible HTTP endpoint: the one entry the coordinator and `conclave up` use. */

export { JOB_ID_HEADER } from "./chat-completion.js";
export { type ChatCompletionRequest, parseChatRequest } from "./chat-request.js";
export { CONVERSATION_LIMITS, conversationTask } from "./conversation-task.js";
export { errorResponse, HttpError, httpStatusOf } from "./http-errors.js";
export { modelIdOf, modelIds, strategyOfModelId } from "./model-ids.js";
export {
  createOpenAiHttpServer,
  HTTP_DEFAULTS,
  type OpenAiHttpServer,
  type OpenAiHttpServerOptions,
} from "./openai-server.js";
