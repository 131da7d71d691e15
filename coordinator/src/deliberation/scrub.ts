/**
 * Scrubbing self-identification from text before other agents see it (brief §5.2). Pure.
 *
 * Two passes: (1) every term of the deny list — worker ids, host names, model names of the job's seats —
 * is redacted wherever it stands; (2) well-known model families and vendors are redacted where a text names
 * itself or its maker ("As Llama, …", "I am Qwen", "trained by OpenAI"). Family names elsewhere are left
 * alone so that an answer about llamas or the Phi coefficient survives.
 */

export const REDACTED = "[redacted]";

/** Model families and vendors a model may name itself by. Lower case. */
export const KNOWN_MODEL_NAMES: readonly string[] = [
  "llama",
  "tinyllama",
  "qwen",
  "mistral",
  "mixtral",
  "gemma",
  "phi",
  "gpt",
  "chatgpt",
  "claude",
  "deepseek",
  "falcon",
  "vicuna",
  "yi",
  "command-r",
  "olmo",
  "granite",
  "smollm",
  "chatglm",
  "glm",
  "baichuan",
  "internlm",
  "nemotron",
  "starcoder",
  "codellama",
  "orca",
  "zephyr",
  "hermes",
  "openhermes",
  "solar",
  "stablelm",
  "exaone",
  "meta",
  "meta ai",
  "openai",
  "alibaba",
  "alibaba cloud",
  "google",
  "deepmind",
  "anthropic",
  "mistral ai",
  "microsoft",
  "nvidia",
  "ibm",
  "tii",
  "01.ai",
  "hugging face",
];

/** Phrases after which a name is a self-identification. */
const SELF_ID_LEAD =
  "(?:as|i am|i'm|i was|this is|my name is|call me|speaking as|named|called|built on|" +
  "trained by|developed by|created by|made by|built by)";

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export interface ScrubResult {
  text: string;
  redactions: number;
}

// The self-identification pattern never changes: build it once (a round calls scrubIdentity ~N² times).
const SELF_ID = (() => {
  const names = [...KNOWN_MODEL_NAMES].sort((a, b) => b.length - a.length).map(escapeRegExp);
  // The name may carry a version tail ("Llama-3.1-8B", "Qwen2.5"), glued on only by a digit or a separator
  // so that "philosophy" is not "Phi"; the article is optional.
  const tail = "(?:\\p{N}[\\p{L}\\p{N}]*)?(?:[-_.:][\\p{L}\\p{N}]+)*";
  return new RegExp(
    `(?<![\\p{L}\\p{N}])(${SELF_ID_LEAD}\\s+(?:an?\\s+|the\\s+)?)(?:${names.join("|")})${tail}(?![\\p{L}\\p{N}])`,
    "giu",
  );
})();

/** Deny-list patterns by list identity: a job's deny list is one array reused for every scrub. */
const denyPatterns = new WeakMap<readonly string[], RegExp | null>();

function denyPattern(denyList: readonly string[]): RegExp | null {
  const cached = denyPatterns.get(denyList);
  if (cached !== undefined) return cached;
  const terms = [...new Set(denyList.map((t) => t.trim()).filter((t) => t.length >= 2))].sort(
    (a, b) => b.length - a.length,
  );
  const re =
    terms.length === 0
      ? null
      : new RegExp(`(?<![\\p{L}\\p{N}])(?:${terms.map(escapeRegExp).join("|")})(?![\\p{L}\\p{N}])`, "giu");
  denyPatterns.set(denyList, re);
  return re;
}

/** Redacts deny-listed terms anywhere and model self-identifications. */
export function scrubIdentity(text: string, denyList: readonly string[]): ScrubResult {
  let redactions = 0;
  let out = text;
  const re = denyPattern(denyList);
  if (re) {
    out = out.replace(re, () => {
      redactions++;
      return REDACTED;
    });
  }
  out = out.replace(SELF_ID, (_m, lead: string) => {
    redactions++;
    return `${lead}${REDACTED}`;
  });
  return { text: out, redactions };
}

/** Identity facts of one seat, as the deny list needs them. */
export interface SeatIdentity {
  workerId: string;
  modelName: string;
  host?: string;
  identityTerms?: readonly string[];
}

/**
 * The deny list for a job: worker ids, hosts, model names (full, and the file's base name without path,
 * extension or quantisation tag), plus each profile's extra identity terms.
 */
export function denyListFor(seats: readonly SeatIdentity[]): string[] {
  const out = new Set<string>();
  for (const s of seats) {
    for (const t of [s.workerId, s.host ?? "", s.modelName, ...(s.identityTerms ?? [])]) {
      if (t.trim().length >= 2) out.add(t.trim());
    }
    const base = s.modelName.split(/[\\/]/).pop() ?? "";
    const noExt = base.replace(/\.gguf$/i, "");
    const noQuant = noExt.replace(/[-_.](?:q\d[\w]*|f16|f32|bf16|iq\d[\w]*)$/i, "");
    for (const t of [base, noExt, noQuant]) if (t.length >= 2) out.add(t);
  }
  return [...out];
}
