/**
 * What hardware the worker runs on: GPUs (nvidia-smi when present — the richest source —, else
 * node-llama-cpp's device names and VRAM totals), RAM and CPU (systeminformation). Every source is an
 * injected edge so tests fake only the hardware; parsing is pure and tested on recorded output.
 * systeminformation alone is not enough for GPUs: it only sees them when `lspci` exists.
 */
import { execFile } from "node:child_process";
import { loadavg } from "node:os";
import type { MemoryAvailability } from "./model-inspect.js";

export type GpuVendor = "nvidia" | "amd" | "apple" | "intel" | "unknown";

export interface GpuInfo {
  readonly index: number;
  readonly name: string;
  readonly vendor: GpuVendor;
  /** Undefined when the source does not say. */
  readonly vramTotalBytes?: number;
  readonly vramUsedBytes?: number;
  readonly vramFreeBytes?: number;
  readonly utilizationPercent?: number;
  readonly powerWatts?: number;
  readonly temperatureCelsius?: number;
  readonly source: "nvidia-smi" | "node-llama-cpp";
}

export interface HardwareSnapshot {
  readonly gpus: readonly GpuInfo[];
  /** "cuda", "vulkan", "metal" or "cpu": what node-llama-cpp computes with. */
  readonly computeBackend: string;
  readonly ramTotalBytes: number;
  /** Available RAM (page cache counts as free), not the kernel's bare "free". */
  readonly ramFreeBytes: number;
  /** VRAM totals over all devices as node-llama-cpp sees them (0 on CPU). */
  readonly vramTotalBytes: number;
  readonly vramFreeBytes: number;
  readonly cpuModel: string;
  readonly cpuCores: number;
  /** One-minute load average divided by cores. */
  readonly cpuLoad: number;
}

/** The nvidia-smi query the probe runs; the parser expects exactly these columns. */
export const NVIDIA_SMI_ARGS: readonly string[] = [
  "--query-gpu=name,memory.total,memory.used,memory.free,utilization.gpu,power.draw,temperature.gpu",
  "--format=csv,noheader,nounits",
];

const MIB = 1024 * 1024;

/** "[N/A]", "[Not Supported]", "" and non-numbers mean unknown. */
function parseNumber(field: string | undefined): number | undefined {
  if (field === undefined) return undefined;
  const trimmed = field.trim();
  if (trimmed === "" || trimmed.startsWith("[")) return undefined;
  const value = Number(trimmed);
  return Number.isFinite(value) ? value : undefined;
}

export function vendorOf(name: string): GpuVendor {
  if (/nvidia|geforce|quadro|tesla|rtx|gtx|titan/i.test(name)) return "nvidia";
  if (/amd|radeon|instinct/i.test(name)) return "amd";
  if (/apple|\bm[1-9]\b/i.test(name)) return "apple";
  if (/intel|\barc\b|iris|uhd/i.test(name)) return "intel";
  return "unknown";
}

/**
 * Parses `nvidia-smi` output of NVIDIA_SMI_ARGS: one line per GPU, MiB / % / W / °C without units.
 * A name may itself contain commas, so the six numeric columns are taken from the right. Lines that do not
 * have enough columns are skipped. Pure.
 */
export function parseNvidiaSmiCsv(stdout: string): GpuInfo[] {
  const gpus: GpuInfo[] = [];
  for (const line of stdout.split(/\r?\n/)) {
    if (line.trim() === "") continue;
    const fields = line.split(",");
    if (fields.length < 7) continue;
    const numbers = fields.slice(-6);
    const name = fields.slice(0, -6).join(",").trim();
    if (name === "") continue;
    const [total, used, free, util, power, temp] = numbers.map(parseNumber);
    const bytes = (v: number | undefined): number | undefined => (v === undefined ? undefined : v * MIB);
    gpus.push({
      index: gpus.length,
      name,
      vendor: "nvidia",
      ...optional("vramTotalBytes", bytes(total)),
      ...optional("vramUsedBytes", bytes(used)),
      ...optional("vramFreeBytes", bytes(free)),
      ...optional("utilizationPercent", util),
      ...optional("powerWatts", power),
      ...optional("temperatureCelsius", temp),
      source: "nvidia-smi",
    });
  }
  return gpus;
}

function optional<K extends string>(key: K, value: number | undefined): { [P in K]?: number } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: number };
}

/**
 * GPUs as node-llama-cpp sees them: device names, with the VRAM totals attached when there is exactly one
 * device (the totals are summed over devices, so they cannot be split). Pure.
 */
export function gpusFromLlama(
  names: readonly string[],
  vram: { total: number; used: number; free: number },
): GpuInfo[] {
  return names.map((name, index) => ({
    index,
    name,
    vendor: vendorOf(name),
    ...(names.length === 1
      ? { vramTotalBytes: vram.total, vramUsedBytes: vram.used, vramFreeBytes: vram.free }
      : {}),
    source: "node-llama-cpp",
  }));
}

/** Runs a program and returns its stdout; rejects when it is missing or fails. */
export type ExecFn = (
  file: string,
  args: readonly string[],
  options: { timeoutMs: number },
) => Promise<string>;

export const execFileText: ExecFn = (file, args, { timeoutMs }) =>
  new Promise((resolve, reject) => {
    execFile(file, [...args], { timeout: timeoutMs, windowsHide: true }, (err, stdout) => {
      if (err) reject(err);
      else resolve(String(stdout));
    });
  });

/** The parts of a node-llama-cpp `Llama` the probe reads. */
export interface LlamaMemorySource {
  readonly gpu: string | false;
  getVramState(): Promise<{ total: number; used: number; free: number }>;
  getGpuDeviceNames(): Promise<string[]>;
}

/** The parts of systeminformation the probe reads. */
export interface SystemInfoSource {
  mem(): Promise<{ total: number; available: number; free: number }>;
  cpu(): Promise<{ manufacturer: string; brand: string; cores: number }>;
}

export interface HardwareProbeDeps {
  /** node-llama-cpp's Llama, for GPU names and VRAM; without it the probe reports CPU only. */
  readonly llama?: LlamaMemorySource;
  /** @default the systeminformation package, loaded lazily */
  readonly systemInfo?: SystemInfoSource;
  /** @default execFileText; a missing nvidia-smi is normal, not an error */
  readonly exec?: ExecFn;
  /** @default os.loadavg()[0] */
  readonly loadAverage?: () => number;
  /** @default 3000 */
  readonly nvidiaSmiTimeoutMs?: number;
}

async function defaultSystemInfo(): Promise<SystemInfoSource> {
  const si = await import("systeminformation");
  return si.default;
}

/** A failure that means "this program is not installed" (as opposed to one that failed this time). */
export function isMissingProgram(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { code?: unknown }).code === "ENOENT";
}

/**
 * A probe for repeated use (the worker's telemetry): what cannot change while the process runs is read once.
 * systeminformation's cpu() runs a shell with `lscpu` on Linux, and a missing nvidia-smi would otherwise be
 * looked for (a fork of the whole worker process) on every probe; the CPU model and core count are kept
 * after the first answer, and nvidia-smi is not tried again once it is known to be absent. RAM, load and
 * VRAM are read every time. Never throws for a missing source: it reports what it could see.
 */
export function createHardwareProbe(deps: HardwareProbeDeps = {}): () => Promise<HardwareSnapshot> {
  const exec = deps.exec ?? execFileText;
  let systemInfo: Promise<SystemInfoSource> | undefined;
  let cpuInfo: Promise<{ manufacturer: string; brand: string; cores: number }> | undefined;
  let nvidiaSmiMissing = false;

  const nvidiaSmi = (): Promise<GpuInfo[]> => {
    if (nvidiaSmiMissing) return Promise.resolve([]);
    return exec("nvidia-smi", NVIDIA_SMI_ARGS, { timeoutMs: deps.nvidiaSmiTimeoutMs ?? 3000 }).then(
      parseNvidiaSmiCsv,
      (err: unknown) => {
        if (isMissingProgram(err)) nvidiaSmiMissing = true;
        return [];
      },
    );
  };

  return async () => {
    systemInfo ??= deps.systemInfo ? Promise.resolve(deps.systemInfo) : defaultSystemInfo();
    const si = await systemInfo;
    // A failed read is not kept: the next probe asks again.
    cpuInfo ??= si.cpu().catch((err: unknown) => {
      cpuInfo = undefined;
      throw err;
    });
    const [mem, cpu, smi, llamaGpus] = await Promise.all([
      si.mem(),
      cpuInfo,
      nvidiaSmi(),
      readLlamaGpus(deps.llama),
    ]);
    const cores = Math.max(1, cpu.cores);
    return {
      gpus: smi.length > 0 ? smi : llamaGpus.gpus,
      computeBackend: deps.llama?.gpu || "cpu",
      ramTotalBytes: mem.total,
      ramFreeBytes: mem.available > 0 ? mem.available : mem.free,
      vramTotalBytes: llamaGpus.total,
      vramFreeBytes: llamaGpus.free,
      cpuModel: `${cpu.manufacturer} ${cpu.brand}`.trim(),
      cpuCores: cores,
      cpuLoad: (deps.loadAverage ?? (() => loadavg()[0] ?? 0))() / cores,
    };
  };
}

/** One probe of the hardware. Never throws for a missing source: it reports what it could see. */
export function probeHardware(deps: HardwareProbeDeps = {}): Promise<HardwareSnapshot> {
  return createHardwareProbe(deps)();
}

async function readLlamaGpus(
  llama: LlamaMemorySource | undefined,
): Promise<{ gpus: GpuInfo[]; total: number; free: number }> {
  if (llama === undefined || llama.gpu === false) return { gpus: [], total: 0, free: 0 };
  const [vram, names] = await Promise.all([llama.getVramState(), llama.getGpuDeviceNames()]);
  return { gpus: gpusFromLlama(names, vram), total: vram.total, free: vram.free };
}

/** The free memory a model may use, for the startup memory check. */
export function memoryAvailability(snapshot: HardwareSnapshot): MemoryAvailability {
  return {
    ramFreeBytes: snapshot.ramFreeBytes,
    ramTotalBytes: snapshot.ramTotalBytes,
    vramFreeBytes: snapshot.vramFreeBytes,
    vramTotalBytes: snapshot.vramTotalBytes,
  };
}
