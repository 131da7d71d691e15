import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  createHardwareProbe,
  type ExecFn,
  gpusFromLlama,
  isMissingProgram,
  NVIDIA_SMI_ARGS,
  parseNvidiaSmiCsv,
  probeHardware,
  type SystemInfoSource,
  vendorOf,
} from "../../../worker/src/hardware-probe.js";

const MIB = 1024 * 1024;
const fixture = (name: string): string =>
  readFileSync(new URL(`./fixtures/nvidia-smi/${name}`, import.meta.url), "utf8");

describe("parseNvidiaSmiCsv", () => {
  it("reads one GPU with every field, converting MiB to bytes", () => {
    expect(parseNvidiaSmiCsv(fixture("single-rtx3090.csv"))).toEqual([
      {
        index: 0,
        name: "NVIDIA GeForce RTX 3090",
        vendor: "nvidia",
        vramTotalBytes: 24576 * MIB,
        vramUsedBytes: 1187 * MIB,
        vramFreeBytes: 23128 * MIB,
        utilizationPercent: 7,
        powerWatts: 34.56,
        temperatureCelsius: 45,
        source: "nvidia-smi",
      },
    ]);
  });

  it("reads a multi-GPU line set in order with its own index per line", () => {
    const gpus = parseNvidiaSmiCsv(fixture("multi-gpu.csv"));
    expect(gpus.map((g) => [g.index, g.name, g.utilizationPercent])).toEqual([
      [0, "NVIDIA GeForce RTX 4060 Ti", 97],
      [1, "NVIDIA GeForce GTX 1080", 0],
      [2, "NVIDIA GeForce RTX 3090", 100],
    ]);
    expect(gpus[2]?.vramFreeBytes).toBe(1804 * MIB);
    expect(gpus[0]?.powerWatts).toBeCloseTo(158.2);
  });

  it("leaves [N/A] memory unknown on unified-memory boards while keeping the other fields", () => {
    const [gpu] = parseNvidiaSmiCsv(fixture("unified-memory-na.csv"));
    expect(gpu?.name).toBe("NVIDIA GB10");
    expect(gpu).not.toHaveProperty("vramTotalBytes");
    expect(gpu).not.toHaveProperty("vramUsedBytes");
    expect(gpu).not.toHaveProperty("vramFreeBytes");
    expect(gpu?.utilizationPercent).toBe(39);
    expect(gpu?.powerWatts).toBeCloseTo(3.74);
    expect(gpu?.temperatureCelsius).toBe(41);
  });

  it("treats [N/A] and [Not Supported] as unknown, field by field", () => {
    const [laptop, k80] = parseNvidiaSmiCsv(fixture("laptop-and-not-supported.csv"));
    expect(laptop?.vramTotalBytes).toBe(4096 * MIB);
    expect(laptop).not.toHaveProperty("powerWatts");
    expect(laptop?.temperatureCelsius).toBe(46);
    expect(k80?.vramFreeBytes).toBe(11441 * MIB);
    expect(k80).not.toHaveProperty("utilizationPercent");
    expect(k80).not.toHaveProperty("powerWatts");
    expect(k80).not.toHaveProperty("temperatureCelsius");
  });

  it("skips text that is not a GPU line (driver failure message, blank lines)", () => {
    expect(parseNvidiaSmiCsv(fixture("driver-failure.txt"))).toEqual([]);
    expect(parseNvidiaSmiCsv("\n\n")).toEqual([]);
  });

  it("keeps commas inside a GPU name by reading the numeric columns from the right", () => {
    const [gpu] = parseNvidiaSmiCsv("Weird, Inc. GPU, 1024, 1, 1023, 2, 3.5, 40\r\n");
    expect(gpu?.name).toBe("Weird, Inc. GPU");
    expect(gpu?.vramTotalBytes).toBe(1024 * MIB);
  });
});

describe("vendorOf and gpusFromLlama", () => {
  it("recognises vendors by name", () => {
    expect(vendorOf("NVIDIA GeForce RTX 3090")).toBe("nvidia");
    expect(vendorOf("AMD Radeon RX 7900 XTX")).toBe("amd");
    expect(vendorOf("Apple M2 Pro")).toBe("apple");
    expect(vendorOf("Intel(R) Arc(TM) A770 Graphics")).toBe("intel");
    expect(vendorOf("Mystery Accelerator")).toBe("unknown");
  });

  it("attaches VRAM to the only device, but not to several (the totals cannot be split)", () => {
    const vram = { total: 8 * MIB, used: 2 * MIB, free: 6 * MIB };
    expect(gpusFromLlama(["Apple M2"], vram)[0]?.vramFreeBytes).toBe(6 * MIB);
    const two = gpusFromLlama(["AMD Radeon A", "AMD Radeon B"], vram);
    expect(two).toHaveLength(2);
    expect(two[1]).not.toHaveProperty("vramTotalBytes");
  });
});

describe("probeHardware with faked hardware edges", () => {
  const systemInfo: SystemInfoSource = {
    mem: async () => ({ total: 32 * 1024 * MIB, available: 20 * 1024 * MIB, free: 2 * 1024 * MIB }),
    cpu: async () => ({ manufacturer: "AMD", brand: "EPYC", cores: 4 }),
  };

  it("prefers nvidia-smi when it answers, and runs it with the documented query", async () => {
    const calls: [string, readonly string[]][] = [];
    const exec: ExecFn = async (file, args) => {
      calls.push([file, args]);
      return fixture("multi-gpu.csv");
    };
    const snapshot = await probeHardware({ exec, systemInfo, loadAverage: () => 2 });
    expect(calls).toEqual([["nvidia-smi", NVIDIA_SMI_ARGS]]);
    expect(snapshot.gpus).toHaveLength(3);
    expect(snapshot.ramFreeBytes).toBe(20 * 1024 * MIB);
    expect(snapshot.cpuCores).toBe(4);
    expect(snapshot.cpuLoad).toBe(0.5);
    expect(snapshot.computeBackend).toBe("cpu");
  });

  it("falls back to node-llama-cpp's devices when nvidia-smi is missing", async () => {
    const exec: ExecFn = async () => {
      throw Object.assign(new Error("spawn nvidia-smi ENOENT"), { code: "ENOENT" });
    };
    const llama = {
      gpu: "metal" as const,
      getVramState: async () => ({ total: 16 * 1024 * MIB, used: 1024 * MIB, free: 15 * 1024 * MIB }),
      getGpuDeviceNames: async () => ["Apple M2 Pro"],
    };
    const snapshot = await probeHardware({ exec, systemInfo, llama, loadAverage: () => 0 });
    expect(snapshot.computeBackend).toBe("metal");
    expect(snapshot.gpus).toEqual([
      {
        index: 0,
        name: "Apple M2 Pro",
        vendor: "apple",
        vramTotalBytes: 16 * 1024 * MIB,
        vramUsedBytes: 1024 * MIB,
        vramFreeBytes: 15 * 1024 * MIB,
        source: "node-llama-cpp",
      },
    ]);
    expect(snapshot.vramFreeBytes).toBe(15 * 1024 * MIB);
  });

  it("reports a CPU-only machine with no GPUs and no VRAM", async () => {
    const exec: ExecFn = async () => {
      throw new Error("ENOENT");
    };
    const snapshot = await probeHardware({ exec, systemInfo, loadAverage: () => 1 });
    expect(snapshot.gpus).toEqual([]);
    expect(snapshot.vramTotalBytes).toBe(0);
    expect(snapshot.cpuModel).toBe("AMD EPYC");
  });
});

describe("createHardwareProbe for repeated probes", () => {
  const counting = () => {
    const calls = { mem: 0, cpu: 0, exec: 0 };
    const systemInfo: SystemInfoSource = {
      mem: async () => {
        calls.mem += 1;
        return { total: 8 * 1024 * MIB, available: (4 + calls.mem) * 1024 * MIB, free: 0 };
      },
      cpu: async () => {
        calls.cpu += 1;
        return { manufacturer: "AMD", brand: "EPYC", cores: 2 };
      },
    };
    return { calls, systemInfo };
  };

  it("reads the CPU once and stops looking for an nvidia-smi that is not installed", async () => {
    const { calls, systemInfo } = counting();
    const exec: ExecFn = async () => {
      calls.exec += 1;
      throw Object.assign(new Error("spawn nvidia-smi ENOENT"), { code: "ENOENT" });
    };
    const probe = createHardwareProbe({ exec, systemInfo, loadAverage: () => 1 });
    const first = await probe();
    const second = await probe();
    const third = await probe();
    expect(calls).toEqual({ mem: 3, cpu: 1, exec: 1 });
    expect(third.cpuModel).toBe("AMD EPYC");
    expect(third.cpuLoad).toBe(0.5);
    // What can change is still read every time.
    expect([first, second, third].map((s) => s.ramFreeBytes / (1024 * MIB))).toEqual([5, 6, 7]);
  });

  it("keeps asking nvidia-smi after a failure that is not a missing program, and uses it when it answers", async () => {
    const { calls, systemInfo } = counting();
    const exec: ExecFn = async () => {
      calls.exec += 1;
      if (calls.exec === 1) throw Object.assign(new Error("timed out"), { code: "ETIMEDOUT" });
      return fixture("multi-gpu.csv");
    };
    const probe = createHardwareProbe({ exec, systemInfo, loadAverage: () => 0 });
    expect((await probe()).gpus).toEqual([]);
    expect((await probe()).gpus).toHaveLength(3);
    expect(calls.exec).toBe(2);
  });

  it("asks for the CPU again after a failed read", async () => {
    let cpuCalls = 0;
    const systemInfo: SystemInfoSource = {
      mem: async () => ({ total: 1, available: 1, free: 1 }),
      cpu: async () => {
        cpuCalls += 1;
        if (cpuCalls === 1) throw new Error("lscpu failed");
        return { manufacturer: "Intel", brand: "Xeon", cores: 4 };
      },
    };
    const exec: ExecFn = async () => {
      throw Object.assign(new Error("ENOENT"), { code: "ENOENT" });
    };
    const probe = createHardwareProbe({ exec, systemInfo, loadAverage: () => 0 });
    await expect(probe()).rejects.toThrow("lscpu failed");
    expect((await probe()).cpuModel).toBe("Intel Xeon");
    expect((await probe()).cpuCores).toBe(4);
    expect(cpuCalls).toBe(2);
  });

  it("knows a missing program from other failures", () => {
    expect(isMissingProgram(Object.assign(new Error("x"), { code: "ENOENT" }))).toBe(true);
    expect(isMissingProgram(Object.assign(new Error("x"), { code: "EACCES" }))).toBe(false);
    expect(isMissingProgram("ENOENT")).toBe(false);
  });
});
