/**
 * Who an app runs as: `--user` / `--group` / `--supplementary-gids`, or the image config's `User`
 * (image-spec config.md: "user", "uid", "user:group", "uid:gid", "uid:group", "user:gid"), turned
 * into the numeric ids the OCI runtime wants (config.md "User": "symbolic name for uid and gid ...
 * are left to upper levels to derive"). Names are looked up in the image's own /etc/passwd and
 * /etc/group, read inside the rootfs (readImageFile); the host's user database never matters.
 */
import { lstat } from "node:fs/promises";
import { secureJoin } from "../../image/layer/secure-join.js";
import { errnoCode, RktError, wrap } from "../../lib/errors.js";
import { readImageFile } from "./read-image-file.js";
import { parseGroup, parsePasswd, type GroupEntry, type PasswdEntry } from "./user-database.js";

/** Options of {@link resolveAppUser}. */
export interface ResolveAppUserOptions {
  /** The app's rendered root file system on the host. */
  readonly rootfs: string;
  /** Names the image in errors (`docker://nginx:1.27`). */
  readonly imageName: string;
  /**
   * `--user`: a uid, a user name, or an absolute path in the image whose owner is used (rkt's
   * third form). May carry a group as `user:group` when `--group` is not given. Replaces the
   * image's whole `User`, group included, as `docker run --user` does.
   */
  readonly user?: string | undefined;
  /** `--group`: a gid, a group name, or an absolute path in the image whose group is used. */
  readonly group?: string | undefined;
  /** The image config's `User`; used when `--user` is not given. Empty means root. */
  readonly imageUser?: string | undefined;
  /** `--supplementary-gids`, added before the groups /etc/group lists the user in. */
  readonly supplementaryGids?: readonly number[] | undefined;
}

/** The resolved identity of an app. */
export interface AppUser {
  readonly uid: number;
  readonly gid: number;
  /**
   * Supplementary groups: the primary gid, `--supplementary-gids`, then every /etc/group entry
   * that lists the user by name, without duplicates. This is what initgroups(3) gives a login and
   * what containerd (Docker, Kubernetes) gives a container; the OCI runtime sets exactly this list
   * with setgroups(2), so leaving the primary gid out would drop it from getgroups(2).
   */
  readonly additionalGids: readonly number[];
  /** The user's name from the image's /etc/passwd; undefined when it has no entry for the uid. */
  readonly name: string | undefined;
  /** The passwd entry's home; otherwise `/root` for uid 0 and `/` for others (as Docker). */
  readonly home: string;
}

const MAX_ID = 4_294_967_294;

/**
 * Resolves the app's uid, gid, supplementary groups and home in the image. Numeric ids need no
 * files; names need /etc/passwd (users) or /etc/group (groups) in the image.
 *
 * Fails with "not-found" for unknown names, a missing database a name needs, or a missing file used
 * as `--user=/path`; with "invalid-argument" for malformed ids.
 *
 * @example
 * await resolveAppUser({ rootfs, imageName: "docker://nginx", imageUser: "nginx" });
 * // { uid: 101, gid: 101, additionalGids: [101], name: "nginx", home: "/nonexistent" }
 * await resolveAppUser({ rootfs, imageName: "docker://nginx", user: "1000", group: "50" });
 * // { uid: 1000, gid: 50, additionalGids: [50], name: undefined, home: "/" }
 */
export async function resolveAppUser(options: ResolveAppUserOptions): Promise<AppUser> {
  const db = new ImageUserDatabase(options.rootfs, options.imageName);
  const spec = pickSpecs(options);

  let uid: number;
  let pathGid: number | undefined;
  let entry: PasswdEntry | undefined;
  if (isNumeric(spec.user)) {
    uid = parseId(spec.user, spec.userSource, "uid");
    entry = (await db.passwd())?.find((e) => e.uid === uid);
  } else if (spec.user.startsWith("/")) {
    const owner = await db.owner(spec.user, spec.userSource);
    uid = owner.uid;
    pathGid = owner.gid;
    entry = (await db.passwd())?.find((e) => e.uid === uid);
  } else {
    const passwd = await db.passwd();
    if (passwd === undefined) {
      throw new RktError("not-found", `cannot resolve user ${JSON.stringify(spec.user)} (${spec.userSource}): image ${options.imageName} has no /etc/passwd`, {
        hint: "use a numeric uid instead, e.g. --user=1000",
      });
    }
    entry = passwd.find((e) => e.name === spec.user);
    if (entry === undefined) {
      throw new RktError("not-found", `user ${JSON.stringify(spec.user)} not found in the image's /etc/passwd (image ${options.imageName})`, {
        hint: "use a numeric uid (--user=1000), or a user the image's /etc/passwd defines",
      });
    }
    uid = entry.uid;
  }

  let gid: number;
  if (spec.group === undefined) {
    // A user given as a path brings its file's group, as rkt did; otherwise the passwd entry's
    // primary group, else root's (Docker: "uid 1000 without an entry runs as gid 0").
    gid = pathGid ?? entry?.gid ?? 0;
  } else if (isNumeric(spec.group)) {
    gid = parseId(spec.group, spec.groupSource, "gid");
  } else if (spec.group.startsWith("/")) {
    gid = (await db.owner(spec.group, spec.groupSource)).gid;
  } else {
    const groups = await db.group();
    if (groups === undefined) {
      throw new RktError("not-found", `cannot resolve group ${JSON.stringify(spec.group)} (${spec.groupSource}): image ${options.imageName} has no /etc/group`, {
        hint: "use a numeric gid instead, e.g. --group=1000",
      });
    }
    const found = groups.find((g) => g.name === spec.group);
    if (found === undefined) {
      throw new RktError("not-found", `group ${JSON.stringify(spec.group)} not found in the image's /etc/group (image ${options.imageName})`, {
        hint: "use a numeric gid (--group=1000), or a group the image's /etc/group defines",
      });
    }
    gid = found.gid;
  }

  const additional = [gid];
  for (const g of options.supplementaryGids ?? []) {
    if (!Number.isInteger(g) || g < 0 || g > MAX_ID) throw new RktError("invalid-argument", `--supplementary-gids: ${g} is not a gid from 0 to ${MAX_ID}`);
    additional.push(g);
  }
  if (entry !== undefined) {
    const name = entry.name;
    for (const g of (await db.group()) ?? []) if (g.members.includes(name)) additional.push(g.gid);
  }

  return {
    uid,
    gid,
    additionalGids: [...new Set(additional)],
    name: entry?.name,
    home: entry !== undefined && entry.home !== "" ? entry.home : uid === 0 ? "/root" : "/",
  };
}

interface Specs {
  readonly user: string;
  readonly userSource: string;
  readonly group: string | undefined;
  readonly groupSource: string;
}

function pickSpecs(options: ResolveAppUserOptions): Specs {
  const fromFlag = options.user !== undefined && options.user !== "";
  const source = fromFlag ? "--user" : "the image's User";
  const raw = fromFlag ? (options.user ?? "") : (options.imageUser ?? "");
  const colon = raw.indexOf(":");
  const user = colon < 0 ? raw : raw.slice(0, colon);
  const embeddedGroup = colon < 0 ? undefined : raw.slice(colon + 1);
  if (fromFlag && embeddedGroup !== undefined && options.group !== undefined) {
    throw new RktError("invalid-argument", `--user=${raw} names a group and --group=${options.group} names another`, { hint: "give the group once, with --group" });
  }
  const flagGroup = options.group !== undefined && options.group !== "" ? options.group : undefined;
  const group = flagGroup ?? (embeddedGroup === "" ? undefined : embeddedGroup);
  return { user: user === "" ? "0" : user, userSource: source, group, groupSource: flagGroup !== undefined ? "--group" : source };
}

function isNumeric(spec: string): boolean {
  return /^\d+$/.test(spec);
}

function parseId(text: string, source: string, what: "uid" | "gid"): number {
  const n = Number(text);
  if (text.length > 10 || n > MAX_ID) throw new RktError("invalid-argument", `${source}: ${what} ${text} is out of range (0 to ${MAX_ID})`);
  return n;
}

/** The image's /etc/passwd and /etc/group, each read (inside the rootfs) at most once. */
class ImageUserDatabase {
  #passwd: Promise<PasswdEntry[] | undefined> | undefined;
  #group: Promise<GroupEntry[] | undefined> | undefined;

  constructor(
    private readonly rootfs: string,
    private readonly imageName: string,
  ) {}

  passwd(): Promise<PasswdEntry[] | undefined> {
    this.#passwd ??= readImageFile(this.rootfs, "/etc/passwd", { imageName: this.imageName }).then((t) => (t === undefined ? undefined : parsePasswd(t)));
    return this.#passwd;
  }

  group(): Promise<GroupEntry[] | undefined> {
    this.#group ??= readImageFile(this.rootfs, "/etc/group", { imageName: this.imageName }).then((t) => (t === undefined ? undefined : parseGroup(t)));
    return this.#group;
  }

  /** The owner of a file in the image (rkt's `--user=/path` form), symlinks resolved inside the rootfs. */
  async owner(path: string, source: string): Promise<{ uid: number; gid: number }> {
    try {
      // lstat: secureJoin already resolved every symlink inside the rootfs; never follow one out.
      const s = await lstat(await secureJoin(this.rootfs, path));
      return { uid: s.uid, gid: s.gid };
    } catch (err) {
      if (errnoCode(err) === "ENOENT" || errnoCode(err) === "ENOTDIR") {
        throw new RktError("not-found", `${source}=${path}: no such file in image ${this.imageName}`, { hint: "a path form takes the owner of a file that exists in the image" });
      }
      throw wrap(`${source}=${path}: reading its owner in image ${this.imageName}`, err);
    }
  }
}
