/** `rkt app sandbox`: start an empty mutable pod, detached, and print its UUID. */
import { createSandbox } from "../../engine/app/sandbox.js";
import { ImageStore } from "../../image/store/image-store.js";
import { RktError } from "../../lib/errors.js";
import { PodStore } from "../../pod/pod-store.js";
import { listFlag } from "../args/flags.js";
import { defineCommand } from "../command.js";
import { keyValue, parseVolume, podRunFlags, stage1Flags } from "../pod/pod-flags.js";
import { requireRoot } from "../pod/run.js";
import { flavorFrom, runOptionsFrom, saveUuid } from "../pod/run-support.js";

const { interactive: _interactive, mdsRegister: _mds, ipc: _ipc, port: _port, ...sandboxRunFlags } = podRunFlags;

export const appSandboxCommand = defineCommand({
  path: ["app", "sandbox"],
  summary: "Start an empty mutable pod (apps are added with `rkt app add`)",
  usage: "app sandbox [--net=...] [--port=NAME:PROTO:PODPORT:HOSTIP:HOSTPORT] [--volume=...] [--uuid-file-save=FILE]",
  flags: {
    ...stage1Flags,
    ...sandboxRunFlags,
    port: listFlag("ports to forward from the host: NAME:PROTOCOL:PODPORT:HOSTIP:HOSTPORT (HOSTIP may be empty)"),
    volume: listFlag("volumes of the pod: NAME,kind=host,source=PATH[,readOnly=BOOL] or NAME,kind=empty[,mode=0755][,uid=0][,gid=0]"),
    annotation: listFlag("an annotation of the pod (NAME=VALUE)"),
    userAnnotation: listFlag("a user annotation of the pod (NAME=VALUE)"),
    userLabel: listFlag("a user label of the pod (NAME=VALUE)"),
  },
  async run(ctx, { values }) {
    requireRoot("app sandbox");
    const base = runOptionsFrom(ctx, { ...values, interactive: false, mdsRegister: false, ipc: "auto", port: [] }, true);
    const images = ImageStore.open(ctx.globals.dataDir);
    const pods = new PodStore(ctx.globals.dataDir);
    const started = await createSandbox(
      pods,
      images,
      {
        flavor: flavorFrom(ctx, values),
        volumes: values.volume.map(parseVolume),
        annotations: values.annotation.map((a) => keyValue(a, "annotation")),
        ...(values.userAnnotation.length === 0 ? {} : { userAnnotations: Object.fromEntries(values.userAnnotation.map((a) => keyValue(a, "user-annotation"))) }),
        ...(values.userLabel.length === 0 ? {} : { userLabels: Object.fromEntries(values.userLabel.map((a) => keyValue(a, "user-label"))) }),
      },
      { ...base, ports: values.port.map(parseSandboxPort) },
    );
    saveUuid(values.uuidFileSave, started.uuid);
    ctx.out.stdout(`${started.uuid}\n`);
    return 0;
  },
});

/** rkt's sandbox form `NAME:PROTOCOL:PODPORT:HOSTIP:HOSTPORT`. */
function parseSandboxPort(text: string): { name: string; hostIP?: string; hostPort: number; podPort: { protocol: "tcp" | "udp"; port: number } } {
  const m = /^([a-z0-9-]+):(tcp|udp):(\d{1,5}):((?:\d{1,3}\.){3}\d{1,3})?:(\d{1,5})$/.exec(text);
  const podPort = Number(m?.[3]);
  const hostPort = Number(m?.[5]);
  if (m === null || podPort < 1 || podPort > 65535 || hostPort < 1 || hostPort > 65535) {
    throw new RktError("invalid-argument", `invalid --port "${text}"`, { hint: "use NAME:PROTOCOL:PODPORT:HOSTIP:HOSTPORT, e.g. --port=http:tcp:80::8080" });
  }
  return { name: m[1] ?? "", ...(m[4] === undefined ? {} : { hostIP: m[4] }), hostPort, podPort: { protocol: m[2] as "tcp" | "udp", port: podPort } };
}
