// Lint is part of the test command. strictTypeChecked catches floating promises and unsafe `any`,
// which matter most in a process that holds locks, mounts and child processes.
import tseslint from "typescript-eslint";

// zod is imported through src/lib/schema.ts only: it installs zod/mini's English messages.
const ZOD_PATHS = [
  { name: "zod", message: "import zod through src/lib/schema.ts (zod/mini with English messages)" },
  { name: "zod/mini", message: "import zod through src/lib/schema.ts (it installs the English messages)" },
];

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "scripts/**/*.mjs", "eslint.config.mjs", "bench/out/**"] },
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true, allowBoolean: true }],
      "@typescript-eslint/no-unnecessary-condition": "off",
      "@typescript-eslint/no-confusing-void-expression": "off",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    files: ["src/**/*.ts"],
    ignores: ["src/lib/schema.ts"],
    rules: {
      "no-restricted-imports": ["error", { paths: ZOD_PATHS }],
    },
  },
  // Imports point one way: cmd -> cli | api | cri -> engine -> image | pod | stage1 | network ->
  // config | sys | log -> lib (STYLE.md). These rules hold that line.
  {
    files: ["src/engine/**", "src/image/**", "src/pod/**", "src/stage1/**", "src/network/**", "src/config/**", "src/sys/**", "src/lib/**"],
    rules: {
      "no-restricted-imports": ["error", { paths: ZOD_PATHS, patterns: [{ group: ["**/cli/**", "**/cmd/**", "**/cri/**", "**/api/**"], message: "the engine and below never import the front ends" }] }],
    },
  },
  {
    files: ["src/image/**", "src/pod/**", "src/stage1/**", "src/network/**", "src/config/**", "src/sys/**", "src/lib/**"],
    rules: {
      "no-restricted-imports": ["error", { paths: ZOD_PATHS, patterns: [{ group: ["**/cli/**", "**/cmd/**", "**/cri/**", "**/api/**", "**/engine/**"], message: "mechanisms never import the engine or the front ends" }] }],
    },
  },
  {
    files: ["test/**/*.ts", "bench/**/*.ts"],
    rules: {
      "@typescript-eslint/no-non-null-assertion": "off",
      "@typescript-eslint/no-floating-promises": ["error", { allowForKnownSafeCalls: [{ from: "package", package: "node:test", name: ["test", "it", "describe", "suite"] }] }],
    },
  },
  { files: ["src/lib/schema.ts"], rules: { "no-restricted-imports": "off" } },
);
