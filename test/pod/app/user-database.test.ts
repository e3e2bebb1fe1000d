import assert from "node:assert/strict";
import { test } from "node:test";
import { parseGroup, parsePasswd } from "../../../src/pod/app/user-database.js";

test("parsePasswd keeps name, ids and home, and skips lines libc would not read", () => {
  const text = [
    "# comment",
    "root:x:0:0:root:/root:/bin/sh",
    "",
    "+nis",
    "broken:x:abc:0::/:/bin/sh",
    "short:x:5",
    "huge:x:99999999999:0::/:/bin/sh",
    "bob:x:1000:100:Bob:/home/bob:/bin/sh\r",
    "nohome:x:1001:1001",
  ].join("\n");
  assert.deepEqual(parsePasswd(text), [
    { name: "root", uid: 0, gid: 0, home: "/root" },
    { name: "bob", uid: 1000, gid: 100, home: "/home/bob" },
    { name: "nohome", uid: 1001, gid: 1001, home: "" },
  ]);
});

test("parseGroup keeps name, gid and members", () => {
  assert.deepEqual(parseGroup("root:x:0:\nwheel:x:10:root, bob\nbad:x:z:bob\nusers:x:100\n"), [
    { name: "root", gid: 0, members: [] },
    { name: "wheel", gid: 10, members: ["root", "bob"] },
    { name: "users", gid: 100, members: [] },
  ]);
});
