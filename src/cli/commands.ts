/**
 * The command table: every `rkt` command, in the order `rkt help` lists them.
 *
 * A command's module is imported only when that command runs (and, all of them, for `rkt help`):
 * each one statically pulls in the engine code it calls, so loading them all would make every
 * command, `rkt version` included, read and compile the image store, the layer code and tar-stream
 * first. The bundler puts each dynamic `import()` in its own chunk. The path is repeated here so the
 * dispatcher can pick a command without loading the others; main() checks that it matches the
 * module's own.
 *
 * To add a command: one line below, `{ path: [...], load: async () => (await import("./x.js")).xCommand }`.
 */
import type { Command } from "./command.js";

/** A command the dispatcher can find by its words before its module is loaded. */
export interface CommandEntry {
  /** The command's words, exactly as its module's `path` has them. */
  readonly path: readonly string[];
  readonly load: () => Promise<Command>;
}

export const commands: readonly CommandEntry[] = [
  { path: ["run"], load: async () => (await import("./pod/run.js")).runCommand },
  { path: ["prepare"], load: async () => (await import("./pod/prepare.js")).prepareCommand },
  { path: ["run-prepared"], load: async () => (await import("./pod/run-prepared.js")).runPreparedCommand },
  { path: ["list"], load: async () => (await import("./pod/list.js")).listCommand },
  { path: ["status"], load: async () => (await import("./pod/status.js")).statusCommand },
  { path: ["stop"], load: async () => (await import("./pod/stop.js")).stopCommand },
  { path: ["enter"], load: async () => (await import("./pod/enter.js")).enterCommand },
  { path: ["logs"], load: async () => (await import("./pod/logs.js")).logsCommand },
  { path: ["cat-manifest"], load: async () => (await import("./pod/cat-manifest.js")).catManifestCommand },
  { path: ["rm"], load: async () => (await import("./pod/rm.js")).rmCommand },
  { path: ["gc"], load: async () => (await import("./pod/gc.js")).gcCommand },
  { path: ["fetch"], load: async () => (await import("./fetch.js")).fetchCommand },
  { path: ["trust"], load: async () => (await import("./trust.js")).trustCommand },
  { path: ["image", "list"], load: async () => (await import("./image/list.js")).imageListCommand },
  { path: ["image", "rm"], load: async () => (await import("./image/remove.js")).imageRemoveCommand },
  { path: ["image", "gc"], load: async () => (await import("./image/gc.js")).imageGcCommand },
  { path: ["image", "cat-manifest"], load: async () => (await import("./image/cat-manifest.js")).imageCatManifestCommand },
  { path: ["image", "export"], load: async () => (await import("./image/export.js")).imageExportCommand },
  { path: ["image", "extract"], load: async () => (await import("./image/render.js")).imageExtractCommand },
  { path: ["image", "render"], load: async () => (await import("./image/render.js")).imageRenderCommand },
  { path: ["image", "verify"], load: async () => (await import("./image/verify.js")).imageVerifyCommand },
  { path: ["image", "build"], load: async () => (await import("./image/build.js")).imageBuildCommand },
  { path: ["image", "discovery-page"], load: async () => (await import("./image/discovery-page.js")).imageDiscoveryPageCommand },
  { path: ["image", "push"], load: async () => (await import("./image/push.js")).imagePushCommand },
  { path: ["app", "sandbox"], load: async () => (await import("./app/sandbox.js")).appSandboxCommand },
  { path: ["app", "add"], load: async () => (await import("./app/add.js")).appAddCommand },
  { path: ["app", "start"], load: async () => (await import("./app/start.js")).appStartCommand },
  { path: ["app", "stop"], load: async () => (await import("./app/stop.js")).appStopCommand },
  { path: ["app", "rm"], load: async () => (await import("./app/rm.js")).appRmCommand },
  { path: ["app", "list"], load: async () => (await import("./app/list.js")).appListCommand },
  { path: ["app", "status"], load: async () => (await import("./app/status.js")).appStatusCommand },
  { path: ["app", "exec"], load: async () => (await import("./app/exec.js")).appExecCommand },
  { path: ["attach"], load: async () => (await import("./pod/attach.js")).attachCommand },
  { path: ["api-service"], load: async () => (await import("./api-service.js")).apiServiceCommand },
  { path: ["metadata-service"], load: async () => (await import("./metadata-service.js")).metadataServiceCommand },
  { path: ["cri"], load: async () => (await import("./cri.js")).criCommand },
  { path: ["version"], load: async () => (await import("./version.js")).versionCommand },
  { path: ["stage1-teardown"], load: async () => (await import("./pod/teardown.js")).teardownCommand },
];

/** Loads the command of `entry`, checking that the table and the module agree on its words. */
export async function loadCommand(entry: CommandEntry): Promise<Command> {
  const command = await entry.load();
  if (command.path.join(" ") !== entry.path.join(" ")) {
    throw new Error(`the command table lists "${entry.path.join(" ")}" but its module defines "${command.path.join(" ")}"`);
  }
  return command;
}

/** Every command, loaded, in table order: for `rkt help`. */
export function loadAllCommands(): Promise<Command[]> {
  return Promise.all(commands.map(loadCommand));
}
