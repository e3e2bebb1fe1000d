/** The command table: every `rkt` command, in the order `rkt help` lists them. */
import type { Command } from "./command.js";
import { fetchCommand } from "./fetch.js";
import { imageCatManifestCommand } from "./image/cat-manifest.js";
import { imageExportCommand } from "./image/export.js";
import { imageGcCommand } from "./image/gc.js";
import { imageListCommand } from "./image/list.js";
import { imageRemoveCommand } from "./image/remove.js";
import { imageExtractCommand, imageRenderCommand } from "./image/render.js";
import { imageVerifyCommand } from "./image/verify.js";
import { versionCommand } from "./version.js";

export const commands: readonly Command[] = [
  fetchCommand,
  imageListCommand,
  imageRemoveCommand,
  imageGcCommand,
  imageCatManifestCommand,
  imageExportCommand,
  imageExtractCommand,
  imageRenderCommand,
  imageVerifyCommand,
  versionCommand,
];
