/**
 * Parsing an image's /etc/passwd and /etc/group (passwd(5), group(5)). The files are image content,
 * so the parser is lenient the way libc's is: lines it cannot read (comments, NIS `+` entries,
 * missing fields, non-numeric ids) are skipped rather than fatal, and only the fields rkt uses are
 * kept.
 */

/** One passwd(5) line: `name:password:uid:gid:gecos:home:shell`. */
export interface PasswdEntry {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  /** Empty when the line has none. */
  readonly home: string;
}

/** One group(5) line: `name:password:gid:member,member`. */
export interface GroupEntry {
  readonly name: string;
  readonly gid: number;
  readonly members: readonly string[];
}

const MAX_ID = 4_294_967_294;

function id(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d{1,10}$/.test(text)) return undefined;
  const n = Number(text);
  return n <= MAX_ID ? n : undefined;
}

function fields(text: string): string[][] {
  return text
    .split("\n")
    .map((line) => line.replace(/\r$/, ""))
    .filter((line) => line !== "" && !line.startsWith("#") && !line.startsWith("+") && !line.startsWith("-"))
    .map((line) => line.split(":"));
}

/**
 * The readable entries of a passwd file, in file order.
 *
 * @example
 * parsePasswd("root:x:0:0:root:/root:/bin/sh\nbob:x:1000:100::/home/bob:/bin/sh\n")[1];
 * // { name: "bob", uid: 1000, gid: 100, home: "/home/bob" }
 */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const f of fields(text)) {
    const [name = "", , uidText, gidText, , home = ""] = f;
    const uid = id(uidText);
    const gid = id(gidText);
    if (name === "" || uid === undefined || gid === undefined) continue;
    out.push({ name, uid, gid, home });
  }
  return out;
}

/**
 * The readable entries of a group file, in file order.
 *
 * @example
 * parseGroup("wheel:x:10:root,bob\n")[0]; // { name: "wheel", gid: 10, members: ["root", "bob"] }
 */
export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const f of fields(text)) {
    const [name = "", , gidText, members = ""] = f;
    const gid = id(gidText);
    if (name === "" || gid === undefined) continue;
    out.push({ name, gid, members: members.split(",").map((m) => m.trim()).filter((m) => m !== "") });
  }
  return out;
}
