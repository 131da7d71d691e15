/**
 * Job output: the live `--follow` view (a person enjoys reading it: rounds, who proposes by seat, votes as
 * they land, the winner, the stop reason), the JSON result object, and job tables. Pure: each function
 * takes messages and returns text.
 */
import { toJson } from "@bufbuild/protobuf";
import {
  type Job,
  type JobEvent,
  JobEventSchema,
  JobState,
  type Seat,
} from "../../../proto/gen/conclave/v1/deliberation_pb.js";
import { errorCodeName } from "../../../proto/src/errors.js";
import {
  evaluationModeNames,
  jobStateNames,
  seatRoleNames,
  stopReasonNames,
  strategyNames,
} from "../../../proto/src/names.js";
import { formatAge, formatDuration, oneLine, renderTable } from "./format.js";

/** The final object `submit --json` and `job --json` print. Field names are stable. */
export interface JobResultJson {
  jobId: string;
  state: string;
  strategy: string;
  answer: string;
  stopReason: string;
  stopDetail: string;
  rounds: number;
  winnerSeat: string;
  promptTokens: number;
  completionTokens: number;
  durationMs: number;
  createdAt: string;
  error?: { code: string; message: string };
  seats: Array<{ seatId: string; role: string; workerId: string; model: string }>;
}

export function jobToJson(job: Job): JobResultJson {
  const r = job.result;
  return {
    jobId: job.jobId,
    state: jobStateNames.name(job.state),
    strategy: strategyNames.name(job.spec?.strategy ?? 0),
    answer: r?.answer ?? "",
    stopReason: r ? stopReasonNames.name(r.stopReason) : "",
    stopDetail: r?.stopDetail ?? "",
    rounds: r?.rounds ?? job.currentRound,
    winnerSeat: r?.winnerSeatId ?? "",
    promptTokens: r?.usage?.promptTokens ?? 0,
    completionTokens: r?.usage?.completionTokens ?? 0,
    durationMs: r?.durationMs ?? 0,
    createdAt: new Date(Number(job.createdAtUnixMs)).toISOString(),
    ...(job.error ? { error: { code: errorCodeName(job.error.code), message: job.error.message } } : {}),
    seats: job.seats.map((s) => ({
      seatId: s.seatId,
      role: seatRoleNames.name(s.role),
      workerId: s.workerId,
      model: s.modelName,
    })),
  };
}

/** One JSON line per event (protobuf's canonical JSON mapping, so any protobuf tool can read it). */
export function eventToJsonLine(event: JobEvent): string {
  return JSON.stringify({
    type: event.event.case ?? "unknown",
    ...(toJson(JobEventSchema, event) as object),
  });
}

/** Keeps what the follow view needs across events (seat → worker for display). */
export interface FollowState {
  seats: Map<string, Seat>;
}

export function newFollowState(): FollowState {
  return { seats: new Map() };
}

function seatLabel(state: FollowState, seatId: string): string {
  const seat = state.seats.get(seatId);
  return seat ? `${seatId} (${seat.modelName || seat.workerId})` : seatId;
}

/** Lines to print for one event in the live view (may be empty). */
export function renderFollowEvent(event: JobEvent, state: FollowState): string[] {
  const e = event.event;
  switch (e.case) {
    case "accepted": {
      const spec = e.value.job?.spec;
      const p = spec?.params;
      const mode = p?.evaluationMode ? ` · review: ${evaluationModeNames.name(p.evaluationMode)}` : "";
      return [
        `job ${e.value.job?.jobId} accepted · ${strategyNames.name(spec?.strategy ?? 0)}` +
          `${p?.agents ? ` · ${p.agents} agents` : ""}${p?.maxRounds ? ` · up to ${p.maxRounds} rounds` : ""}${mode}`,
      ];
    }
    case "seated": {
      for (const s of e.value.seats) state.seats.set(s.seatId, s);
      const who = e.value.seats.map((s) => `${s.seatId}=${s.modelName || "?"}@${s.workerId}`).join("  ");
      return [`${e.value.round > 1 ? `re-seated for round ${e.value.round}` : "seated"}: ${who}`];
    }
    case "roundStarted":
      return ["", `── round ${e.value.round} ── ${e.value.seatIds.length} seats propose`];
    case "proposal": {
      const p = e.value;
      const tokens = p.usage?.completionTokens ?? 0;
      return [
        `  ✎ ${seatLabel(state, p.seatId)} proposed (${tokens} tok, ${formatDuration(p.latencyMs)}): ${oneLine(p.answer, 70)}`,
      ];
    }
    case "evaluation": {
      const ev = e.value;
      if (!ev.valid) return [`  ⚖ ${ev.evaluatorSeatId} abstained: ${oneLine(ev.abstainReason, 80)}`];
      const marks = ev.candidates
        .map((c) => `${c.candidateSeatId} ${c.weight >= 0 ? "+" : ""}${Math.round(c.weight)}`)
        .join(", ");
      return [`  ⚖ ${ev.evaluatorSeatId} reviewed: ${marks}`];
    }
    case "roundCompleted": {
      const r = e.value;
      const tally = [...r.tallies]
        .sort((a, b) => b.support - a.support)
        .map((t) => `${t.seatId} ${t.support >= 0 ? "+" : ""}${t.support.toFixed(2)}`)
        .join("  ");
      const lines = [];
      if (tally) lines.push(`  votes: ${tally}`);
      lines.push(
        `  ★ round ${r.round} winner ${r.winnerSeatId ? seatLabel(state, r.winnerSeatId) : "—"}` +
          ` · conviction ${r.conviction.toFixed(2)}${r.winnerStable ? " (stable)" : ""} · ${formatDuration(r.durationMs)}`,
      );
      if (r.winnerAnswer) lines.push(`    ${oneLine(r.winnerAnswer, 100)}`);
      return lines;
    }
    case "fault":
      return [`  ! ${e.value.seatId || e.value.workerId}: ${e.value.message}`];
    case "log":
      return [`  · ${e.value.message}`];
    case "finished": {
      const job = e.value.job;
      if (!job) return [];
      const r = job.result;
      const lines = [""];
      if (job.state === JobState.SUCCEEDED) {
        lines.push(
          `stopped: ${stopReasonNames.name(r?.stopReason ?? 0)}${r?.stopDetail ? ` (${r.stopDetail})` : ""}` +
            ` after ${r?.rounds ?? 0} round(s), ${formatDuration(r?.durationMs ?? 0)},` +
            ` ${(r?.usage?.promptTokens ?? 0) + (r?.usage?.completionTokens ?? 0)} tokens`,
        );
        lines.push("", r?.answer ?? "");
      } else {
        lines.push(
          `job ${jobStateNames.name(job.state)}: ${job.error?.message ?? r?.stopDetail ?? stopReasonNames.name(r?.stopReason ?? 0)}`,
        );
      }
      return lines;
    }
    default:
      return [];
  }
}

export function renderJobsTable(jobs: readonly Job[], nowMs: number): string {
  if (jobs.length === 0) return 'No jobs yet. Submit one with: conclave submit "your question" --follow';
  return renderTable(
    ["JOB", "STATE", "STRATEGY", "ROUNDS", "CREATED", "TASK", "ANSWER"],
    jobs.map((j) => [
      j.jobId,
      jobStateNames.name(j.state),
      strategyNames.name(j.spec?.strategy ?? 0),
      String(j.result?.rounds ?? j.currentRound),
      formatAge(Number(j.createdAtUnixMs), nowMs),
      oneLine(j.spec?.task ?? "", 30),
      oneLine(j.result?.answer ?? j.error?.message ?? "", 40),
    ]),
  );
}

export function renderJob(job: Job, nowMs: number): string {
  const j = jobToJson(job);
  const lines = [
    `job       ${j.jobId}`,
    `state     ${j.state}${j.error ? ` (${j.error.code}: ${j.error.message})` : ""}`,
    `strategy  ${j.strategy}`,
    `created   ${j.createdAt} (${formatAge(Number(job.createdAtUnixMs), nowMs)})`,
    `task      ${oneLine(job.spec?.task ?? "", 100)}`,
  ];
  if (job.result) {
    lines.push(
      `stopped   ${j.stopReason}${j.stopDetail ? ` (${j.stopDetail})` : ""} after ${j.rounds} round(s) in ${formatDuration(j.durationMs)}`,
      `tokens    ${j.promptTokens} prompt + ${j.completionTokens} completion`,
    );
  }
  if (j.seats.length > 0)
    lines.push(`seats     ${j.seats.map((s) => `${s.seatId}=${s.model}@${s.workerId}`).join("  ")}`);
  if (j.answer) lines.push("", j.answer);
  return lines.join("\n");
}
