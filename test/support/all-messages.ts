/** Every message schema of the conclave.v1 contract, for tests that must cover all of them. */
import type { DescMessage } from "@bufbuild/protobuf";
import { file_conclave_v1_common } from "../../proto/gen/conclave/v1/common_pb.js";
import { file_conclave_v1_coordinator } from "../../proto/gen/conclave/v1/coordinator_pb.js";
import { file_conclave_v1_deliberation } from "../../proto/gen/conclave/v1/deliberation_pb.js";
import { file_conclave_v1_inference } from "../../proto/gen/conclave/v1/inference_pb.js";
import { file_conclave_v1_plan } from "../../proto/gen/conclave/v1/plan_pb.js";
import { file_conclave_v1_telemetry } from "../../proto/gen/conclave/v1/telemetry_pb.js";

export const CONTRACT_FILES = [
  file_conclave_v1_common,
  file_conclave_v1_telemetry,
  file_conclave_v1_inference,
  file_conclave_v1_plan,
  file_conclave_v1_deliberation,
  file_conclave_v1_coordinator,
];

function collect(messages: readonly DescMessage[], out: DescMessage[]): void {
  for (const m of messages) {
    out.push(m);
    collect(m.nestedMessages, out);
  }
}

/** Every message type, nested ones included (map entry types are not messages in protobuf-es). */
export function allMessageSchemas(): DescMessage[] {
  const out: DescMessage[] = [];
  for (const file of CONTRACT_FILES) collect(file.messages, out);
  return out;
}
