// Bundles the CLI into one ES module so `rkt` starts fast: Node resolving and compiling dozens of
// files costs tens of milliseconds on every command, and `rkt fetch` of a cached image must stay
// well under 150 ms. koffi is native and stays external.
import { build } from "esbuild";

await build({
  entryPoints: { rkt: "src/cmd/rkt.ts" },
  outdir: "dist",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: "linked",
  external: ["koffi"],
  outExtension: { ".js": ".mjs" },
  banner: {
    js: "import { createRequire as __rktCreateRequire } from 'node:module'; const require = __rktCreateRequire(import.meta.url);",
  },
  logLevel: "warning",
});
