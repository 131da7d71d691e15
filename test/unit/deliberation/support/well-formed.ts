/** Checks that a job's event stream is a complete, well-ordered transcript; returns every problem. */
import { type JobEvent, JobState } from "../../../../proto/gen/conclave/v1/deliberation_pb.js";

function roundOf(e: JobEvent): number | undefined {
  switch (e.event.case) {
    case "prompt":
    case "proposal":
    case "aliasMap":
    case "evaluation":
    case "proposalStarted":
      return e.event.value.round;
    default:
      return undefined;
  }
}

export function transcriptProblems(events: readonly JobEvent[], firstSequence = 1): string[] {
  const problems: string[] = [];
  events.forEach((e, i) => {
    if (e.sequence !== BigInt(firstSequence + i)) problems.push(`event ${i} has sequence ${e.sequence}`);
    if (i > 0 && e.atUnixMs < (events[i - 1]?.atUnixMs ?? 0n)) problems.push(`event ${i} goes back in time`);
    if (e.jobId !== events[0]?.jobId) problems.push(`event ${i} has another job id`);
  });
  const finished = events.filter((e) => e.event.case === "finished");
  if (finished.length !== 1) problems.push(`${finished.length} finished events`);
  if (events[events.length - 1]?.event.case !== "finished") problems.push("last event is not finished");
  const first = events[0]?.event.case;
  if (first !== "seated" && !(first === "finished" && events.length === 1))
    problems.push(`first event is ${first}`);
  // Round-scoped events sit between their round's start and completion.
  let open: number | undefined;
  const seenRounds: number[] = [];
  const promptSeats = new Set<string>();
  const aliasSeats = new Set<string>();
  events.forEach((e, i) => {
    const c = e.event.case;
    if (c === "roundStarted") {
      if (open !== undefined)
        problems.push(`round ${e.event.value.round} starts before round ${open} completed`);
      open = e.event.value.round;
      if (seenRounds.length > 0 && open !== (seenRounds[seenRounds.length - 1] ?? 0) + 1) {
        problems.push(`round ${open} follows round ${seenRounds[seenRounds.length - 1]}`);
      }
      seenRounds.push(open);
    } else if (c === "roundCompleted") {
      if (open !== e.event.value.round)
        problems.push(`round ${e.event.value.round} completed while ${open} open`);
      open = undefined;
    }
    const r = roundOf(e);
    if (r !== undefined && r !== open)
      problems.push(`event ${i} (${c}) of round ${r} outside its round (open: ${open})`);
    if (c === "prompt") promptSeats.add(`${e.event.value.round}/${e.event.value.seatId}`);
    if (c === "proposal" && !promptSeats.has(`${e.event.value.round}/${e.event.value.seatId}`)) {
      problems.push(
        `proposal of ${e.event.value.seatId} in round ${e.event.value.round} without a prompt record`,
      );
    }
    if (c === "aliasMap") aliasSeats.add(`${e.event.value.round}/${e.event.value.evaluatorSeatId}`);
    if (c === "evaluation" && !aliasSeats.has(`${e.event.value.round}/${e.event.value.evaluatorSeatId}`)) {
      problems.push(`evaluation by ${e.event.value.evaluatorSeatId} without an alias map`);
    }
  });
  if (open !== undefined && finished[0]?.event.case === "finished") {
    const state = finished[0].event.value.job?.state;
    // A job that failed mid-round may leave its round open; a successful one may not.
    if (state === JobState.SUCCEEDED) problems.push(`round ${open} never completed`);
  }
  return problems;
}
