/**
 * An app's environment, composed the way rkt did (rkt-features §2 and §4). Sources, lowest
 * precedence first; a later source replaces the value of an earlier one and the variable keeps
 * its first position:
 *
 * 1. the parent's environment, with `--inherit-env`
 * 2. the image config's `Env`
 * 3. `--set-env-file` files, in flag order
 * 4. `--set-env`
 * 5. the app's `--environment`
 *
 * then defaults for what is still unset (PATH, SHELL, USER, LOGNAME, HOME), and AC_APP_NAME, which
 * rkt's stage1 always set to the app's name (appc executor spec).
 */
import { readFile } from "node:fs/promises";
import { RktError, wrap } from "../../lib/errors.js";

/** One variable: `[name, value]`. */
export type EnvVar = readonly [name: string, value: string];

/** The default PATH (rkt's, systemd's and Docker's). */
export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * Names users may set: POSIX's portable names (letters, digits, `_`, not starting with a digit)
 * plus `.` and `-`, which Docker passes and some Java and Spring images read.
 */
const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/** Options of {@link composeAppEnv}. */
export interface AppEnvInput {
  /** The app's name, exported as AC_APP_NAME. */
  readonly appName: string;
  /** Names the image in errors about its Env. */
  readonly imageName?: string | undefined;
  /** `--inherit-env`: start from `parentEnv`. */
  readonly inheritEnv?: boolean | undefined;
  /** rkt's own environment (process.env, read by the entry point). Names not valid anywhere are skipped. */
  readonly parentEnv?: Readonly<Record<string, string | undefined>> | undefined;
  /** The image config's `Env` (`NAME=value`; an entry without `=` is ignored, as it sets nothing). */
  readonly imageEnv?: readonly string[] | undefined;
  /** The parsed `--set-env-file` files, in flag order (readEnvFile). */
  readonly envFiles?: readonly (readonly EnvVar[])[] | undefined;
  /** `--set-env` values, `NAME=value`. */
  readonly setEnv?: readonly string[] | undefined;
  /** The app's `--environment` values, `NAME=value`. */
  readonly environment?: readonly string[] | undefined;
  /** The resolved user (resolveAppUser), for USER, LOGNAME and HOME. */
  readonly user: { readonly uid: number; readonly name?: string | undefined; readonly home?: string | undefined };
}

/**
 * Composes the app's environment. Fails with "invalid-argument" on a malformed `--set-env` /
 * `--environment` value, a name outside [A-Za-z_][A-Za-z0-9_.-]*, or a NUL byte anywhere.
 *
 * USER and LOGNAME default to the user's passwd name, or "root" for uid 0 without one; a non-root
 * uid without a passwd entry gets neither (there is no name to give). HOME defaults to the user's
 * home (resolveAppUser: `/root` for root, `/` for an unknown non-root uid).
 *
 * @example
 * composeAppEnv({ appName: "web", imageEnv: ["PATH=/opt/bin:/bin", "A=1"], setEnv: ["A=2"], user: { uid: 0 } });
 * // [["PATH", "/opt/bin:/bin"], ["A", "2"], ["SHELL", "/bin/sh"], ["USER", "root"],
 * //  ["LOGNAME", "root"], ["HOME", "/root"], ["AC_APP_NAME", "web"]]
 */
export function composeAppEnv(input: AppEnvInput): EnvVar[] {
  const env = new Map<string, string>();
  if (input.inheritEnv === true) {
    for (const [name, value] of Object.entries(input.parentEnv ?? {})) {
      if (value !== undefined && NAME.test(name) && !value.includes("\0")) env.set(name, value);
    }
  }
  const imageSource = `the Env of image ${input.imageName ?? "(unnamed)"}`;
  for (const entry of input.imageEnv ?? []) {
    const eq = entry.indexOf("=");
    if (eq < 0) continue;
    // Images are what they are: any name the kernel can carry is kept (Docker runs them too).
    const name = entry.slice(0, eq);
    const value = entry.slice(eq + 1);
    if (name === "" || name.includes("\0") || value.includes("\0")) {
      throw new RktError("invalid-argument", `${imageSource}: ${JSON.stringify(entry)} is not a valid variable (empty name or a NUL byte)`);
    }
    env.set(name, value);
  }
  for (const file of input.envFiles ?? []) for (const [name, value] of file) env.set(name, value);
  for (const entry of input.setEnv ?? []) env.set(...parseAssignment(entry, "--set-env"));
  for (const entry of input.environment ?? []) env.set(...parseAssignment(entry, "--environment"));

  const setDefault = (name: string, value: string | undefined): void => {
    if (value !== undefined && !env.has(name)) env.set(name, value);
  };
  const { uid, name, home } = input.user;
  const userName = name ?? (uid === 0 ? "root" : undefined);
  setDefault("PATH", DEFAULT_PATH);
  setDefault("SHELL", "/bin/sh");
  setDefault("USER", userName);
  setDefault("LOGNAME", userName);
  setDefault("HOME", home ?? (uid === 0 ? "/root" : "/"));
  // Not a default: rkt's stage1 set it unconditionally, so an app can trust it names itself.
  env.set("AC_APP_NAME", input.appName);
  return [...env];
}

/**
 * Parses one `NAME=value` flag value (`--set-env`, `--environment`); `flag` names it in errors.
 *
 * @example
 * parseAssignment("GREETING=hello=world", "--set-env"); // ["GREETING", "hello=world"]
 */
export function parseAssignment(entry: string, flag: string): EnvVar {
  const eq = entry.indexOf("=");
  if (eq < 0) {
    throw new RktError("invalid-argument", `${flag} ${JSON.stringify(entry)}: expected NAME=VALUE`, { hint: `e.g. ${flag}=GREETING=hello` });
  }
  const name = entry.slice(0, eq);
  checkName(name, `${flag} ${JSON.stringify(entry)}`);
  const value = entry.slice(eq + 1);
  if (value.includes("\0")) throw new RktError("invalid-argument", `${flag} ${JSON.stringify(name)}: the value contains a NUL byte`);
  return [name, value];
}

/**
 * Parses an environment file (`--set-env-file`): one `NAME=value` per line; blank lines and lines
 * starting with `#` or `;` are skipped; leading whitespace is ignored; the value is everything after
 * the first `=`, taken literally (no quotes, no escapes, no expansion, as rkt and Docker's
 * `--env-file`). CRLF line ends are accepted. `file` names the file in errors.
 *
 * @example
 * parseEnvFile("# proxy\nHTTP_PROXY=http://proxy:3128\n\n; x\nNO_PROXY=localhost\n", "proxy.env");
 * // [["HTTP_PROXY", "http://proxy:3128"], ["NO_PROXY", "localhost"]]
 */
export function parseEnvFile(text: string, file: string): EnvVar[] {
  const out: EnvVar[] = [];
  const lines = text.split("\n");
  for (const [i, raw] of lines.entries()) {
    const line = raw.replace(/\r$/, "").trimStart();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const where = `--set-env-file ${file}, line ${i + 1}`;
    const eq = line.indexOf("=");
    if (eq < 0) {
      // The line itself is not echoed: a mistyped line may well hold a secret.
      throw new RktError("invalid-argument", `${where}: expected NAME=VALUE, but the line has no "="`, {
        hint: "each line is NAME=VALUE; lines starting with # or ; are comments",
      });
    }
    const name = line.slice(0, eq);
    checkName(name, where);
    const value = line.slice(eq + 1);
    if (value.includes("\0")) throw new RktError("invalid-argument", `${where}: the value of ${name} contains a NUL byte`);
    out.push([name, value]);
  }
  return out;
}

/**
 * Reads and parses an environment file from the host (`--set-env-file PATH`).
 *
 * @example
 * const vars = await readEnvFile("/etc/rkt/proxy.env");
 */
export async function readEnvFile(path: string, signal?: AbortSignal): Promise<EnvVar[]> {
  let text: string;
  try {
    text = await readFile(path, { encoding: "utf8", signal });
  } catch (err) {
    throw wrap(`--set-env-file ${path}`, err);
  }
  return parseEnvFile(text, path);
}

/**
 * The value of `name` in a composed environment, e.g. PATH for the executable lookup.
 *
 * @example
 * getEnvVar([["PATH", "/bin"]], "PATH"); // "/bin"
 */
export function getEnvVar(env: readonly EnvVar[], name: string): string | undefined {
  return env.find(([n]) => n === name)?.[1];
}

function checkName(name: string, where: string): void {
  if (!NAME.test(name)) {
    throw new RktError("invalid-argument", `${where}: ${JSON.stringify(truncate(name))} is not a valid variable name`, {
      hint: "names are letters, digits, '_', '.' and '-', and do not start with a digit",
    });
  }
}

function truncate(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
