/**
 * What an app executes: its argv from the image config and the flags, and a check, before anything
 * starts, that the program exists in the image. Without the check a typo surfaces as the runtime's
 * "exec: no such file or directory" from inside a half-started pod.
 *
 * argv follows rkt and Docker: Entrypoint + Cmd (image-spec config.md: Cmd is "default arguments to
 * the entrypoint"); `--exec PATH` replaces both; arguments after `--` replace Cmd, or follow
 * `--exec`.
 */
import { lstat } from "node:fs/promises";
import { posix } from "node:path";
import { secureJoin } from "../../image/layer/secure-join.js";
import { errnoCode, RktError, wrap } from "../../lib/errors.js";
import { DEFAULT_PATH } from "./app-env.js";

/** Options of {@link composeAppExec}. */
export interface AppExecInput {
  /** Names the image in errors. */
  readonly imageName: string;
  /** The image config's `Entrypoint`. */
  readonly entrypoint?: readonly string[] | undefined;
  /** The image config's `Cmd`. */
  readonly cmd?: readonly string[] | undefined;
  /** `--exec PATH`: replaces Entrypoint and Cmd. */
  readonly exec?: string | undefined;
  /** Arguments after `--`: replace Cmd, or follow `--exec`. Empty means none given. */
  readonly args?: readonly string[] | undefined;
}

/**
 * The app's argv. Fails with "invalid-argument" when there is nothing to run (an image without
 * Entrypoint and Cmd, and no `--exec`) or the executable is an empty string.
 *
 * @example
 * composeAppExec({ imageName: "redis", entrypoint: ["docker-entrypoint.sh"], cmd: ["redis-server"] });
 * // ["docker-entrypoint.sh", "redis-server"]
 * composeAppExec({ imageName: "redis", entrypoint: ["docker-entrypoint.sh"], cmd: ["redis-server"], args: ["--port", "7000"] });
 * // ["docker-entrypoint.sh", "--port", "7000"]
 * composeAppExec({ imageName: "redis", entrypoint: ["docker-entrypoint.sh"], exec: "/bin/sh", args: ["-c", "id"] });
 * // ["/bin/sh", "-c", "id"]
 */
export function composeAppExec(input: AppExecInput): string[] {
  const args = input.args ?? [];
  let argv: string[];
  if (input.exec !== undefined) {
    if (input.exec === "") throw new RktError("invalid-argument", "--exec: the path is empty", { hint: "e.g. --exec /bin/sh" });
    argv = [input.exec, ...args];
  } else {
    argv = [...(input.entrypoint ?? []), ...(args.length > 0 ? args : (input.cmd ?? []))];
  }
  const [argv0] = argv;
  if (argv0 === undefined) {
    throw new RktError("invalid-argument", `image ${input.imageName} has no Entrypoint or Cmd: nothing to run`, {
      hint: `name the program with --exec, e.g. rkt run ${input.imageName} --exec /bin/sh`,
    });
  }
  if (argv0 === "") throw new RktError("invalid-argument", `image ${input.imageName}: the executable (first element of Entrypoint/Cmd) is an empty string`, { hint: "name the program with --exec" });
  if (argv.some((a) => a.includes("\0"))) throw new RktError("invalid-argument", `image ${input.imageName}: an argument contains a NUL byte`);
  return argv;
}

/** Options of {@link resolveExecutable}. */
export interface ResolveExecutableOptions {
  /** The app's rendered root file system on the host. */
  readonly rootfs: string;
  /** Names the image in errors. */
  readonly imageName: string;
  /** The app's PATH (getEnvVar(env, "PATH")); default DEFAULT_PATH. */
  readonly path?: string | undefined;
  /** The app's absolute working directory, for relative paths. Default `/`. */
  readonly cwd?: string | undefined;
}

type Probe = "ok" | "missing" | "not-regular" | { notExecutable: number };

/**
 * Finds `argv0` in the image the way execvp(3) will inside the container, and returns its path as
 * the app sees it. A name with a `/` is taken as a path (relative ones from `cwd`); a bare name is
 * searched in `path`. Every lookup resolves symlinks and `..` inside the rootfs (secureJoin), so a
 * link to a host binary does not count as present. The program must be a regular file with an
 * execute bit.
 *
 * Fails with "not-found" when it is absent, "failed-precondition" when it is not a regular file or
 * not executable.
 *
 * @example
 * await resolveExecutable("nginx", { rootfs, imageName: "docker://nginx", path: "/usr/sbin:/usr/bin" });
 * // "/usr/sbin/nginx"
 * await resolveExecutable("/bin/nope", { rootfs, imageName: "docker://nginx" });
 * // throws not-found: executable "/bin/nope" not found in image docker://nginx
 */
export async function resolveExecutable(argv0: string, options: ResolveExecutableOptions): Promise<string> {
  const cwd = options.cwd ?? "/";
  const image = options.imageName;
  if (!posix.isAbsolute(cwd)) throw new RktError("invalid-argument", `working directory ${JSON.stringify(cwd)} is not an absolute path`);
  if (argv0 === "") throw new RktError("invalid-argument", `image ${image}: the executable is an empty string`);

  if (argv0.includes("/")) {
    // Joined, not normalized: ".." must be resolved after symlinks, as the kernel does.
    const path = argv0.startsWith("/") ? argv0 : `${cwd}/${argv0}`;
    const probe = await probeExecutable(options.rootfs, path, argv0, image);
    if (probe === "ok") return path;
    if (probe === "missing") {
      throw new RktError("not-found", `executable ${JSON.stringify(argv0)} not found in image ${image}`, {
        hint: "check the image's Entrypoint/Cmd, or pass --exec with a program the image contains",
      });
    }
    throw notRunnable(argv0, image, probe);
  }

  const searchPath = options.path ?? DEFAULT_PATH;
  let denied: { path: string; probe: Exclude<Probe, "ok" | "missing" | "not-regular"> } | undefined;
  for (const dir of searchPath.split(":")) {
    // An empty PATH element means the current directory (execvp(3)).
    const base = dir === "" ? cwd : dir.startsWith("/") ? dir : `${cwd}/${dir}`;
    const candidate = `${base.replace(/\/+$/, "")}/${argv0}`;
    const probe = await probeExecutable(options.rootfs, candidate, argv0, image);
    if (probe === "ok") return candidate;
    // execvp keeps searching past a non-executable match, and reports EACCES if nothing else fits.
    if (typeof probe === "object") denied ??= { path: candidate, probe };
  }
  if (denied !== undefined) throw notRunnable(denied.path, image, denied.probe);
  throw new RktError("not-found", `executable ${JSON.stringify(argv0)} not found in image ${image} (searched PATH=${searchPath})`, {
    hint: "check the image's Entrypoint/Cmd and PATH, or pass --exec with an absolute path the image contains",
  });
}

async function probeExecutable(rootfs: string, path: string, argv0: string, image: string): Promise<Probe> {
  let stat;
  try {
    stat = await lstat(await secureJoin(rootfs, path));
  } catch (err) {
    const code = errnoCode(err);
    if (code === "ENOENT" || code === "ENOTDIR") return "missing";
    throw wrap(`looking up executable ${JSON.stringify(argv0)} in image ${image}`, err);
  }
  // secureJoin resolved every symlink, so lstat sees the target itself.
  if (!stat.isFile()) return "not-regular";
  if ((stat.mode & 0o111) === 0) return { notExecutable: stat.mode & 0o7777 };
  return "ok";
}

function notRunnable(path: string, image: string, probe: Exclude<Probe, "ok" | "missing">): RktError {
  if (probe === "not-regular") {
    return new RktError("failed-precondition", `executable ${JSON.stringify(path)} in image ${image} is not a regular file`, {
      hint: "pass --exec with the path of a program, not a directory or device",
    });
  }
  return new RktError("failed-precondition", `executable ${JSON.stringify(path)} in image ${image} is not executable (mode ${probe.notExecutable.toString(8).padStart(4, "0")})`, {
    hint: `make it executable in the image, or run it through a shell: --exec /bin/sh -- ${path}`,
  });
}
