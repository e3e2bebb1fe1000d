/**
 * `rkt image build [flags] [--spec=FILE] --output=OUT... [CONTEXT_DIR]`: build an ACI and/or an
 * OCI image from files of CONTEXT_DIR (default: the current directory). Every spec field has a
 * flag; flags override the spec file. The command is `--exec=PATH` plus one `--arg` per argument
 * (as `rkt run --exec`), so no shell-like splitting is ever guessed. Prints one line per output:
 * the output and its image ID (ACI) or manifest digest (OCI).
 */
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { buildImage } from "../../engine/image/build-image.js";
import type { BuildSpec, CopySpec, MountPointSpec, PortSpec } from "../../image/build/build-spec.js";
import { parseDependencyArgument } from "../../image/build/build-spec.js";
import type { PublishTarget } from "../../image/build/publish-aci.js";
import { RktError } from "../../lib/errors.js";
import { boolFlag, listFlag, stringFlag } from "../args/flags.js";
import { defineCommand } from "../command.js";

/** The `rkt image build` command (see the module comment). */
export const imageBuildCommand = defineCommand({
  path: ["image", "build"],
  summary: "Build an ACI and/or an OCI image from a directory and a spec",
  usage: "image build [--spec=FILE] [--name=NAME] [--copy=SRC:DST]... [--exec=PATH [--arg=ARG]...] [flags] --output=FILE.aci|oci:DIR[:TAG]|oci-archive:FILE[:TAG]... [CONTEXT_DIR]",
  flags: {
    spec: stringFlag("JSON build spec (fields: name, labels, copy, exec, user, group, workingDirectory, environment, ports, mountPoints, annotations, isolators, dependencies, base); flags override it"),
    output: listFlag("where to write: FILE.aci, oci:DIR[:TAG] (OCI layout, created or added to) or oci-archive:FILE[:TAG]; repeat for several"),
    name: stringFlag("image name (AC Identifier, e.g. example.com/app); required for ACI output, the default OCI tag is NAME:VERSION"),
    label: listFlag("image label LABEL=VALUE (version, os, arch, ...); repeatable"),
    copy: listFlag("copy SRC (relative to CONTEXT_DIR, file or directory) to DST (absolute; a trailing / puts a file inside): SRC:DST; repeatable"),
    exec: stringFlag("the executable to run (absolute path for ACIs); replaces the spec's exec"),
    arg: listFlag("an argument of the executable; repeatable, in order; without --exec replaces the spec's arguments"),
    user: stringFlag("user to run as (name or UID)"),
    group: stringFlag("group to run as (name or GID)"),
    workingDir: stringFlag("working directory (absolute)"),
    env: listFlag("environment variable NAME=VALUE; repeatable"),
    port: listFlag("port NAME:PROTOCOL:PORT, e.g. http:tcp:8080; repeatable"),
    mountPoint: listFlag("mount point NAME:PATH[:ro]; repeatable"),
    annotation: listFlag("annotation NAME=VALUE; repeatable"),
    dependency: listFlag("appc dependency NAME[:VERSION][,LABEL=VALUE...] (ACI only); repeatable"),
    base: stringFlag("base image from the store (ID or name): its layers come first (OCI), or it becomes the first dependency (ACI)"),
    compression: stringFlag("compression of the ACI and the OCI layer", "gzip", ["gzip", "none"]),
    overwrite: boolFlag("replace existing ACI, signature and archive files"),
    sign: boolFlag("sign each ACI with gpg (writes FILE.aci.asc; GNUPGHOME selects the keyring)"),
    signKey: stringFlag("the gpg key to sign with (--local-user); default: gpg's default key"),
    publishDir: stringFlag("also lay out the ACI (and signature) and its discovery page under this web root, at the paths --aci-template gives"),
    aciTemplate: stringFlag("with --publish-dir: the discovery URL template, with {ext} (e.g. https://example.com/aci/{name}-{version}-{os}-{arch}.{ext})"),
    pubkeys: stringFlag("with --publish-dir: the URL of the signing keys, announced by the discovery page"),
  },
  async run(ctx, { values, positionals, given }) {
    if (positionals.length > 1) {
      throw new RktError("invalid-argument", `expected at most one context directory, got ${positionals.length}`, { hint: "usage: rkt image build [flags] --output=OUT [CONTEXT_DIR]" });
    }
    const cwd = process.cwd();
    const overrides: { -readonly [K in keyof BuildSpec]: BuildSpec[K] } = {};
    if (given.has("name")) overrides.name = values.name;
    if (values.label.length > 0) overrides.labels = pairs(values.label, "--label", "=");
    if (values.copy.length > 0) overrides.copy = values.copy.map(copyStep);
    if (given.has("exec")) overrides.exec = [values.exec, ...values.arg];
    if (given.has("user")) overrides.user = values.user;
    if (given.has("group")) overrides.group = values.group;
    if (given.has("workingDir")) overrides.workingDirectory = values.workingDir;
    if (values.env.length > 0) overrides.environment = pairs(values.env, "--env", "=");
    if (values.port.length > 0) overrides.ports = values.port.map(port);
    if (values.mountPoint.length > 0) overrides.mountPoints = values.mountPoint.map(mountPoint);
    if (values.annotation.length > 0) overrides.annotations = pairs(values.annotation, "--annotation", "=");
    if (values.dependency.length > 0) overrides.dependencies = values.dependency.map(parseDependencyArgument);
    if (given.has("base")) overrides.base = values.base;

    const env = ctx.env.SOURCE_DATE_EPOCH;
    let sourceDateEpoch: number | undefined;
    if (env !== undefined && env !== "") {
      if (!/^\d+$/.test(env)) throw new RktError("invalid-argument", `SOURCE_DATE_EPOCH="${env}" is not a number of seconds`, { hint: "e.g. SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)" });
      sourceDateEpoch = Number(env);
    }
    const report = await buildImage({
      contextDir: resolve(cwd, positionals[0] ?? "."),
      specFile: values.spec === "" ? undefined : resolve(cwd, values.spec),
      overrides,
      args: !given.has("exec") && values.arg.length > 0 ? values.arg : undefined,
      outputs: values.output,
      cwd,
      overwrite: values.overwrite,
      compression: values.compression as "gzip" | "none",
      sourceDateEpoch,
      sign: values.sign ? { keyId: values.signKey === "" ? undefined : values.signKey, env: ctx.env } : undefined,
      publish: publishTarget(values.publishDir, values.aciTemplate, values.pubkeys, cwd),
      dataDir: ctx.globals.dataDir,
      tmpDir: tmpdir(),
      signal: ctx.signal,
    });
    for (const w of report.warnings) ctx.out.stderr(`warning: ${w}\n`);
    for (const image of report.images) {
      if (image.kind === "aci") {
        ctx.out.stdout(`${image.path} ${image.imageId}\n`);
        if (image.signature !== undefined) ctx.out.stderr(`signed ${image.path}: ${image.signature}\n`);
      } else {
        ctx.out.stdout(`${image.kind === "oci-layout" ? "oci" : "oci-archive"}:${image.path}:${image.tag} ${image.manifestDigest}\n`);
      }
    }
    if (report.published !== undefined) {
      const dir = resolve(cwd, values.publishDir);
      for (const path of [report.published.page, report.published.aci, ...(values.sign ? [report.published.signature] : [])]) ctx.out.stderr(`published ${join(dir, path)}\n`);
    }
    return 0;
  },
});

function publishTarget(dir: string, aciTemplate: string, pubkeys: string, cwd: string): PublishTarget | undefined {
  if (dir === "") {
    if (aciTemplate !== "" || pubkeys !== "") throw new RktError("invalid-argument", "--aci-template and --pubkeys go with --publish-dir", { hint: "add --publish-dir=DIR, or use rkt image discovery-page for the page alone" });
    return undefined;
  }
  if (aciTemplate === "") throw new RktError("invalid-argument", "--publish-dir needs --aci-template", { hint: "e.g. --aci-template=https://example.com/aci/{name}-{version}-{os}-{arch}.{ext}" });
  return { dir: resolve(cwd, dir), aciTemplate, pubkeys: pubkeys === "" ? undefined : pubkeys };
}

function pairs(items: readonly string[], flag: string, sep: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const i = item.indexOf(sep);
    if (i <= 0) throw new RktError("invalid-argument", `invalid ${flag} "${item}"`, { hint: `write ${flag}=NAME${sep}VALUE` });
    out[item.slice(0, i)] = item.slice(i + 1);
  }
  return out;
}

/** `SRC:DST`, DST absolute: split at the first ":/". */
function copyStep(text: string): CopySpec {
  const i = text.indexOf(":/");
  if (i <= 0) throw new RktError("invalid-argument", `invalid --copy "${text}"`, { hint: "write --copy=SRC:DST, DST absolute, e.g. --copy=bin/app:/usr/bin/app" });
  return { from: text.slice(0, i), to: text.slice(i + 1) };
}

function port(text: string): PortSpec {
  const m = /^([^:]+):([^:]+):(\d+)$/.exec(text);
  if (m === null) throw new RktError("invalid-argument", `invalid --port "${text}"`, { hint: "write --port=NAME:PROTOCOL:PORT, e.g. http:tcp:8080" });
  return { name: m[1] ?? "", protocol: m[2] ?? "", port: Number(m[3]) };
}

function mountPoint(text: string): MountPointSpec {
  const m = /^([^:]+):(\/[^:]*)(?::(ro|rw))?$/.exec(text);
  if (m === null) throw new RktError("invalid-argument", `invalid --mount-point "${text}"`, { hint: "write --mount-point=NAME:PATH[:ro], e.g. data:/var/lib/app" });
  return { name: m[1] ?? "", path: m[2] ?? "", readOnly: m[3] === "ro" };
}
