/**
 * A real registry for tests: Debian's `docker-registry` (CNCF distribution 2.8) on 127.0.0.1, with
 * filesystem storage in a temp dir, optionally behind TLS (a throwaway CA), HTTP basic auth
 * (htpasswd) or token auth (token-server.ts in this process). Starting one takes well under a
 * second; `sharedRegistry()` gives one plain registry per test file.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, rmSync } from "node:fs";
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { httpRequest } from "./registry-client.js";
import { createTestCa, issueServerCert } from "./test-ca.js";
import { makeTempDir, removeTempDir } from "./tmp.js";
import { startTokenServer, type TokenRequest, type TokenServer } from "./token-server.js";

/** How the registry authenticates: not at all, HTTP basic (htpasswd), or bearer tokens from token-server.ts. */
export type RegistryAuth = "none" | "basic" | "token";

/** What kind of registry {@link startRegistry} starts. */
export interface RegistryOptions {
  /** Serve HTTPS with a certificate for 127.0.0.1 signed by a fresh test CA (`caFile`). */
  readonly tls?: boolean;
  /** Default "none". */
  readonly auth?: RegistryAuth;
}

/** A running test registry: where it is, how to trust and authenticate to it, how to stop it. */
export interface TestRegistry {
  /** `127.0.0.1:PORT`, the registry part of an image reference. */
  readonly host: string;
  /** `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`. */
  readonly url: string;
  readonly tls: boolean;
  readonly auth: RegistryAuth;
  /** The CA that signed the server certificate (PEM), when `tls`. */
  readonly caFile: string | undefined;
  /**
   * A directory holding only `ca.crt` (= caFile), when `tls`: the certs.d layout that skopeo's
   * `--cert-dir` and containers/image expect (a stray `*.key` there would be taken for a client key).
   */
  readonly caDir: string | undefined;
  /** Credentials that work, when `auth` is not "none". */
  readonly username: string | undefined;
  readonly password: string | undefined;
  /** The token server's `realm`, when `auth` is "token". */
  readonly tokenRealm: string | undefined;
  /** Requests the token server saw, oldest first (empty unless `auth` is "token"). */
  readonly tokenRequests: readonly TokenRequest[];
  /** The registry's storage root (filesystem driver), for tests that inspect or corrupt it. */
  readonly storageDir: string;
  /** Stops the registry (and token server) and removes its temp dir. Idempotent. */
  stop(): Promise<void>;
}

/** The user name that basic and token registries accept. */
export const TEST_REGISTRY_USERNAME = "rkt";
/** The password that basic and token registries accept. */
export const TEST_REGISTRY_PASSWORD = "rkt-test-password";
/**
 * bcrypt (cost 4) of TEST_REGISTRY_PASSWORD: distribution's htpasswd accepts only bcrypt, and no
 * tool on a stock Debian makes bcrypt (`openssl passwd` cannot; `htpasswd` is in apache2-utils).
 * Made once with libxcrypt: python3 -c 'import crypt; print(crypt.crypt("rkt-test-password",
 * crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))'.
 */
const TEST_REGISTRY_BCRYPT = "$2b$04$jhxvDaO4himqe29gAuwHXuhLJZJiSuHyFzgKNJwOww/m/ezveARl6";

const READY_TIMEOUT_MS = 15_000;

/**
 * Starts `docker-registry serve` on a free port of 127.0.0.1 and resolves once GET /v2/ answers
 * (200, or 401 with auth). The caller must `stop()` it (in `t.after` or `after`).
 *
 * @example
 * const registry = await startRegistry({ tls: true, auth: "token" });
 * t.after(() => registry.stop());
 * await pushImage(layoutDir, registry, "busybox");
 */
export async function startRegistry(options: RegistryOptions = {}): Promise<TestRegistry> {
  return start(options, false);
}

let shared: Promise<TestRegistry> | undefined;

/**
 * One plain registry (no TLS, no auth) for the whole test file, started on first use. It lives
 * until the test process exits (it is killed and its dir removed then); its `stop()` does nothing
 * so one test cannot take it from the others. Use distinct repository names per test.
 *
 * @example
 * const registry = await sharedRegistry();
 */
export async function sharedRegistry(): Promise<TestRegistry> {
  shared ??= start({}, true).catch((err: unknown) => {
    shared = undefined;
    throw err;
  });
  return shared;
}

async function start(options: RegistryOptions, unref: boolean): Promise<TestRegistry> {
  const tls = options.tls ?? false;
  const auth = options.auth ?? "none";
  const dir = await makeTempDir("rkt-registry-");
  let tokenServer: TokenServer | undefined;
  try {
    const config: Record<string, unknown> = {
      version: "0.1",
      log: { level: "error", accesslog: { disabled: true } },
      storage: {
        filesystem: { rootdirectory: join(dir, "storage") },
        delete: { enabled: true },
        maintenance: { uploadpurging: { enabled: false } },
      },
      http: { addr: "", secret: "rkt-test-secret", headers: { "X-Content-Type-Options": ["nosniff"] } },
      health: { storagedriver: { enabled: false } },
    };
    const http = config.http as Record<string, unknown>;
    let caFile: string | undefined;
    let caDir: string | undefined;
    if (tls) {
      const keys = join(dir, "pki");
      caDir = join(dir, "ca");
      await mkdir(keys);
      await mkdir(caDir);
      const ca = await createTestCa(keys);
      const server = await issueServerCert(ca, keys);
      caFile = join(caDir, "ca.crt");
      await copyFile(ca.certFile, caFile);
      http.tls = { certificate: server.certFile, key: server.keyFile };
    }
    if (auth === "basic") {
      const htpasswd = join(dir, "htpasswd");
      await writeFile(htpasswd, `${TEST_REGISTRY_USERNAME}:${TEST_REGISTRY_BCRYPT}\n`);
      config.auth = { htpasswd: { realm: "rkt-test-registry", path: htpasswd } };
    } else if (auth === "token") {
      tokenServer = await startTokenServer({ dir, username: TEST_REGISTRY_USERNAME, password: TEST_REGISTRY_PASSWORD });
      config.auth = {
        token: { realm: tokenServer.realm, service: tokenServer.service, issuer: tokenServer.issuer, rootcertbundle: tokenServer.certFile },
      };
    }

    // The port is picked by binding :0 and releasing it, so another process can take it before
    // the registry binds; a registry that exits with "address already in use" is retried.
    const ca = caFile === undefined ? undefined : await readFile(caFile);
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const host = `127.0.0.1:${port}`;
      http.addr = host;
      // JSON is YAML, so the config needs no YAML writer.
      const configFile = join(dir, "config.yml");
      await writeFile(configFile, JSON.stringify(config, null, 2));
      const logFile = join(dir, "registry.log");
      const url = `${tls ? "https" : "http"}://${host}`;
      const child = spawnRegistry(configFile, logFile);
      const ready = await waitReady(child, url, ca);
      if (ready !== "ready") {
        await killAndWait(child);
        const log = await readFile(logFile, "utf8").catch(() => "");
        if (/address already in use/.test(log) && attempt < 5) continue;
        throw new Error(`docker-registry did not start (${ready}):\n${log}`);
      }
      if (unref) child.unref();
      const token = tokenServer;
      let stopped: Promise<void> | undefined;
      const stop = async (): Promise<void> => {
        await killAndWait(child);
        await token?.close();
        await removeTempDir(dir);
      };
      if (unref) {
        // The shared registry outlives every test; only process exit ends it, synchronously.
        process.once("exit", () => {
          child.kill("SIGKILL");
          rmSync(dir, { recursive: true, force: true });
        });
      }
      return {
        host,
        url,
        tls,
        auth,
        caFile,
        caDir,
        username: auth === "none" ? undefined : TEST_REGISTRY_USERNAME,
        password: auth === "none" ? undefined : TEST_REGISTRY_PASSWORD,
        tokenRealm: token?.realm,
        tokenRequests: token?.requests ?? [],
        storageDir: join(dir, "storage"),
        stop: unref ? () => Promise.resolve() : () => (stopped ??= stop()),
      };
    }
  } catch (err) {
    await tokenServer?.close();
    await removeTempDir(dir);
    throw err;
  }
}

function spawnRegistry(configFile: string, logFile: string): ChildProcess {
  // REGISTRY_* variables override the config file (distribution configuration/parser.go); a
  // developer's environment must not reconfigure the test registry.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("REGISTRY_")));
  // Output goes to a file, not a pipe: no pipe keeps the test process alive, and the log
  // survives for the error message.
  const fd = openSync(logFile, "a");
  try {
    return spawn("docker-registry", ["serve", configFile], { stdio: ["ignore", fd, fd], env });
  } finally {
    closeSync(fd);
  }
}

async function waitReady(child: ChildProcess, url: string, ca: Buffer | undefined): Promise<string> {
  let exited: string | undefined;
  const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
    exited = `exited with ${code ?? signal}`;
  };
  const onError = (err: Error): void => {
    exited = `cannot run: ${err.message}`;
  };
  child.once("exit", onExit);
  child.once("error", onError);
  try {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (exited !== undefined) return exited;
      if (child.exitCode !== null || child.signalCode !== null) return `exited with ${child.exitCode ?? child.signalCode}`;
      try {
        const res = await httpRequest(`${url}/v2/`, { timeoutMs: 2000, ...(ca === undefined ? {} : { ca }) });
        if (res.status === 200 || res.status === 401) return "ready";
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    return exited ?? `no answer on ${url}/v2/ within ${READY_TIMEOUT_MS} ms`;
  } finally {
    child.off("exit", onExit);
    child.off("error", onError);
  }
}

/** SIGTERM, then SIGKILL after 5 s; resolves once the process is gone. */
async function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  try {
    await gone;
  } finally {
    clearTimeout(timer);
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
