// Lint is part of the test command. strictTypeChecked catches floating promises and unsafe `any`,
// which matter most in a process that holds locks, mounts and child processes.
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "scripts/**/*.mjs", "eslint.config.mjs"] },
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
  // Imports point one way: cmd -> cli | api | cri -> engine -> image | pod | stage1 | network ->
  // config | sys | log -> lib (STYLE.md). These rules hold that line.
  {
    files: ["src/engine/**", "src/image/**", "src/pod/**", "src/stage1/**", "src/network/**", "src/config/**", "src/sys/**", "src/lib/**"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [{ group: ["**/cli/**", "**/cmd/**", "**/cri/**", "**/api/**"], message: "the engine and below never import the front ends" }] }],
    },
  },
  {
    files: ["src/image/**", "src/pod/**", "src/stage1/**", "src/network/**", "src/config/**", "src/sys/**", "src/lib/**"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [{ group: ["**/cli/**", "**/cmd/**", "**/cri/**", "**/api/**", "**/engine/**"], message: "mechanisms never import the engine or the front ends" }] }],
    },
  },
  {
    files: ["test/**/*.ts", "bench/**/*.ts"],
    rules: {
      "@typescript-eslint/no-non-null-assertion": "off",
      "@typescript-eslint/no-floating-promises": ["error", { allowForKnownSafeCalls: [{ from: "package", package: "node:test", name: ["test", "it", "describe", "suite"] }] }],
    },
  },
);
