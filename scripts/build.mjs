// Bundles the CLI into ES modules so `rkt` starts fast: Node resolving and compiling dozens of
// files costs tens of milliseconds on every command, and `rkt fetch` of a cached image must stay
// well under 150 ms. koffi is native and stays external.
//
// Start-up is dominated by how much JavaScript Node has to read and compile, so:
// - code splitting: every dynamic `import()` in src/ (lazily loaded commands, registry client,
//   tar-stream, the pull routine) becomes its own chunk under dist/chunks/, loaded only by the
//   commands that need it; dist/rkt.mjs holds just what every command runs;
// - minified, identifiers included; the linked source maps (separate .map files, read only under
//   `--debug`, see bin/rkt) map stack traces back to src/.
import { cpSync, rmSync } from "node:fs";
import { build } from "esbuild";

// Chunk names carry content hashes: drop the previous build's so stale ones do not pile up.
rmSync("dist/chunks", { recursive: true, force: true });

await build({
  entryPoints: { rkt: "src/cmd/rkt.ts" },
  outdir: "dist",
  bundle: true,
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
  minify: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: "linked",
  external: ["koffi"],
  outExtension: { ".js": ".mjs" },
  // Each chunk gets it too: CommonJS dependencies bundled into a chunk call `require` for builtins.
  banner: {
    js: "import { createRequire as __rktCreateRequire } from 'node:module'; const require = __rktCreateRequire(import.meta.url);",
  },
  logLevel: "warning",
});

// The API service loads its .proto at run time (src/api/load-public-api.ts looks beside the bundle).
cpSync("src/api/proto", "dist/api/proto", { recursive: true });
// The CRI server loads its .proto files at run time (src/cri/cri-protos.ts looks beside the bundle).
cpSync("src/cri/proto", "dist/cri/proto", { recursive: true });
