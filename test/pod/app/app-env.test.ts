import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { RktError } from "../../../src/lib/errors.js";
import { composeAppEnv, DEFAULT_PATH, getEnvVar, parseAssignment, parseEnvFile, readEnvFile } from "../../../src/pod/app/app-env.js";
import { withTempDir } from "../../image/layer/temp-dir.js";

const ROOT = { uid: 0, name: "root", home: "/root" };

function invalid(...fragments: string[]) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof RktError, String(err));
    assert.equal(err.kind, "invalid-argument");
    for (const f of fragments) assert.ok(err.message.includes(f), `${JSON.stringify(err.message)} lacks ${JSON.stringify(f)}`);
    return true;
  };
}

test("composeAppEnv adds rkt's defaults to an empty environment", () => {
  assert.deepEqual(composeAppEnv({ appName: "web", user: ROOT }), [
    ["PATH", DEFAULT_PATH],
    ["SHELL", "/bin/sh"],
    ["USER", "root"],
    ["LOGNAME", "root"],
    ["HOME", "/root"],
    ["AC_APP_NAME", "web"],
  ]);
});

test("composeAppEnv applies parent < image < env files < --set-env < --environment", () => {
  const env = composeAppEnv({
    appName: "web",
    inheritEnv: true,
    parentEnv: { A: "parent", B: "parent", C: "parent", D: "parent", E: "parent", F: "parent", UNSET: undefined },
    imageEnv: ["B=image", "C=image", "D=image", "E=image"],
    envFiles: [[["C", "file1"], ["D", "file1"]], [["D", "file2"]]],
    setEnv: ["E=set", "F=set"],
    environment: ["F=app"],
    user: ROOT,
  });
  assert.deepEqual(env.slice(0, 6), [
    ["A", "parent"],
    ["B", "image"],
    ["C", "file1"],
    ["D", "file2"],
    ["E", "set"],
    ["F", "app"],
  ]);
  assert.equal(getEnvVar(env, "UNSET"), undefined);
});

test("composeAppEnv ignores the parent environment without inheritEnv", () => {
  const env = composeAppEnv({ appName: "web", parentEnv: { SECRET: "x" }, user: ROOT });
  assert.equal(getEnvVar(env, "SECRET"), undefined);
});

test("composeAppEnv keeps a variable's first position when a later source overrides it", () => {
  const env = composeAppEnv({ appName: "a", imageEnv: ["PATH=/opt/bin", "X=1"], setEnv: ["PATH=/custom"], user: ROOT });
  assert.deepEqual(env[0], ["PATH", "/custom"]);
  assert.deepEqual(env[1], ["X", "1"]);
});

test("composeAppEnv keeps the image's PATH, SHELL, USER and HOME over the defaults", () => {
  const env = composeAppEnv({ appName: "a", imageEnv: ["PATH=/usr/bin", "SHELL=/bin/bash", "USER=app", "HOME=/app"], user: ROOT });
  assert.equal(getEnvVar(env, "PATH"), "/usr/bin");
  assert.equal(getEnvVar(env, "SHELL"), "/bin/bash");
  assert.equal(getEnvVar(env, "USER"), "app");
  assert.equal(getEnvVar(env, "LOGNAME"), "root");
  assert.equal(getEnvVar(env, "HOME"), "/app");
});

test("composeAppEnv takes USER, LOGNAME and HOME from the resolved user", () => {
  const env = composeAppEnv({ appName: "a", user: { uid: 1000, name: "bob", home: "/home/bob" } });
  assert.deepEqual([getEnvVar(env, "USER"), getEnvVar(env, "LOGNAME"), getEnvVar(env, "HOME")], ["bob", "bob", "/home/bob"]);
  const anonymous = composeAppEnv({ appName: "a", user: { uid: 4242 } });
  assert.deepEqual([getEnvVar(anonymous, "USER"), getEnvVar(anonymous, "LOGNAME"), getEnvVar(anonymous, "HOME")], [undefined, undefined, "/"]);
  const root = composeAppEnv({ appName: "a", user: { uid: 0 } });
  assert.deepEqual([getEnvVar(root, "USER"), getEnvVar(root, "HOME")], ["root", "/root"]);
});

test("composeAppEnv always sets AC_APP_NAME to the app's name, as rkt's stage1", () => {
  const env = composeAppEnv({ appName: "web", imageEnv: ["AC_APP_NAME=spoofed"], environment: ["AC_APP_NAME=also"], user: ROOT });
  assert.equal(getEnvVar(env, "AC_APP_NAME"), "web");
  assert.equal(env.filter(([n]) => n === "AC_APP_NAME").length, 1);
});

test("composeAppEnv keeps odd image variable names, skips image entries without =, refuses NUL", () => {
  const env = composeAppEnv({ appName: "a", imageName: "docker://odd", imageEnv: ["java.home=/opt/jdk", "1X=y", "NOVALUE", "EMPTY="], user: ROOT });
  assert.equal(getEnvVar(env, "java.home"), "/opt/jdk");
  assert.equal(getEnvVar(env, "1X"), "y");
  assert.equal(getEnvVar(env, "NOVALUE"), undefined);
  assert.equal(getEnvVar(env, "EMPTY"), "");
  assert.throws(() => composeAppEnv({ appName: "a", imageName: "docker://odd", imageEnv: ["=x"], user: ROOT }), invalid("docker://odd"));
  assert.throws(() => composeAppEnv({ appName: "a", imageName: "docker://odd", imageEnv: ["A=\0"], user: ROOT }), invalid("docker://odd", "NUL"));
});

test("composeAppEnv skips parent variables whose names an app cannot be given", () => {
  const env = composeAppEnv({ appName: "a", inheritEnv: true, parentEnv: { "npm_config_//registry:_authToken": "t", "BASH_FUNC_f%%": "() { :; }", OK: "1" }, user: ROOT });
  assert.equal(getEnvVar(env, "OK"), "1");
  assert.equal(env.length, 7);
});

test("composeAppEnv refuses malformed --set-env and --environment values, naming the flag", () => {
  assert.throws(() => composeAppEnv({ appName: "a", setEnv: ["NOEQUALS"], user: ROOT }), invalid("--set-env", "NAME=VALUE"));
  assert.throws(() => composeAppEnv({ appName: "a", setEnv: ["1BAD=x"], user: ROOT }), invalid("--set-env", "not a valid variable name"));
  assert.throws(() => composeAppEnv({ appName: "a", environment: ["=x"], user: ROOT }), invalid("--environment"));
  assert.throws(() => composeAppEnv({ appName: "a", environment: ["A B=x"], user: ROOT }), invalid("--environment"));
});

test("parseAssignment splits at the first =", () => {
  assert.deepEqual(parseAssignment("A=b=c", "--set-env"), ["A", "b=c"]);
  assert.deepEqual(parseAssignment("A=", "--set-env"), ["A", ""]);
  assert.deepEqual(parseAssignment("spring.profiles-active=x", "--set-env"), ["spring.profiles-active", "x"]);
});

test("parseEnvFile skips comments and blank lines and takes values literally", () => {
  const text = ["# a comment", "; another", "", "   ", "  INDENTED=1", "QUOTED=\"not unquoted\"", "URL=http://x/?a=b", "EMPTY=", "CRLF=yes\r", "TRAILING=space "].join("\n");
  assert.deepEqual(parseEnvFile(text, "app.env"), [
    ["INDENTED", "1"],
    ["QUOTED", '"not unquoted"'],
    ["URL", "http://x/?a=b"],
    ["EMPTY", ""],
    ["CRLF", "yes"],
    ["TRAILING", "space "],
  ]);
});

test("parseEnvFile names the file and line of a malformed line without echoing it", () => {
  assert.throws(() => parseEnvFile("A=1\n# c\nhunter2 secret\n", "/etc/app.env"), (err: unknown) => {
    assert.ok(err instanceof RktError);
    assert.equal(err.kind, "invalid-argument");
    assert.match(err.message, /--set-env-file \/etc\/app\.env, line 3: expected NAME=VALUE/);
    assert.ok(!err.message.includes("hunter2"));
    return true;
  });
  assert.throws(() => parseEnvFile("OK=1\nBAD NAME=2\n", "f.env"), invalid("f.env, line 2", "not a valid variable name"));
  assert.throws(() => parseEnvFile("=2\n", "f.env"), invalid("f.env, line 1"));
});

test("readEnvFile reads a host file and names it when it is missing", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "a.env");
    await writeFile(file, "A=1\n");
    assert.deepEqual(await readEnvFile(file), [["A", "1"]]);
    await assert.rejects(readEnvFile(join(dir, "missing.env")), (err: unknown) => err instanceof RktError && err.kind === "not-found" && err.message.includes("missing.env"));
  });
});
