/** Port helpers for `conclave up`: is a port free, and pick a free one. */
import { createServer } from "node:net";

export function isPortFree(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, host, () => {
      const address = srv.address();
      const port = typeof address === "object" && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** The preferred port when free, else any free port; says which and why. */
export async function choosePort(
  preferred: number,
  host = "127.0.0.1",
): Promise<{ port: number; note?: string }> {
  if (await isPortFree(preferred, host)) return { port: preferred };
  const port = await freePort(host);
  return { port, note: `port ${preferred} is in use, using ${port}` };
}
