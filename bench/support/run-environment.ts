/** The facts a benchmark result must be read with: when, on what machine, with which versions. */
import { execFileSync } from "node:child_process";
import { cpus, release, totalmem } from "node:os";

/**
 * One line per fact: date (UTC), machine (cores, memory, kernel, load), and `tool --version` of
 * each of `tools` (first line), for the report's header.
 *
 * @example
 * for (const line of describeEnvironment(["podman", "skopeo"])) console.log(line);
 */
export function describeEnvironment(tools: readonly string[]): string[] {
  const load = execFileSync("cat", ["/proc/loadavg"], { encoding: "utf8" }).split(" ").slice(0, 3).join(" ");
  const lines = [
    `date: ${new Date().toISOString().replace(/\.\d+Z$/, "Z")}`,
    `machine: ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Linux ${release()}, load average ${load} (a shared VM: expect noise)`,
    `node: ${process.version}`,
  ];
  for (const tool of tools) lines.push(`${tool}: ${toolVersion(tool)}`);
  return lines;
}

function toolVersion(tool: string): string {
  try {
    const out = execFileSync(tool, ["--version"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    return out.trim().split("\n")[0] ?? "?";
  } catch {
    return "not installed";
  }
}
