/**
 * The manifest of an ACI file, read before anything is stored: the fetch path needs the image's
 * name to choose the keys that must have signed it, and must compare name and labels with what
 * was asked for, before importAci puts a byte in the store. Reads until the `manifest` entry
 * (appc writes it first) and stops there.
 */
import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import { extract } from "tar-stream";
import { RktError, wrap } from "../../../lib/errors.js";
import { parseAciManifest, type AciManifest } from "../../formats/appc/image-manifest.js";
import { MAX_ACI_MANIFEST_BYTES } from "../../layer/apply-layer.js";
import { ACI_COMPRESSIONS, decompress } from "../../layer/decompress.js";
import { parseEntryPath } from "../../layer/entry-path.js";


/**
 * Reads and parses the `manifest` of the ACI at `path`. Throws RktError "invalid-argument" when
 * the file is no ACI (no manifest, a manifest too large or not valid); `label` names it.
 *
 * @example
 * const manifest = await readAciManifest("/tmp/app.aci", "https://example.com/app.aci");
 * manifest.name; // "example.com/app"
 */
export async function readAciManifest(path: string, label: string, signal?: AbortSignal): Promise<AciManifest> {
  const source = createReadStream(path);
  const unpacked = decompress({ compressions: ACI_COMPRESSIONS, what: "ACI", ...(signal === undefined ? {} : { signal }) });
  const tar = extract();
  source.on("error", (err) => unpacked.destroy(err));
  source.pipe(unpacked);
  unpacked.on("error", (err) => tar.destroy(err));
  unpacked.pipe(tar);
  try {
    for await (const entry of tar) {
      const path = parseEntryPath(entry.header.name);
      if (path.length !== 1 || path[0] !== "manifest") {
        entry.resume();
        continue;
      }
      if (entry.header.type !== "file" || (entry.header.size ?? 0) > MAX_ACI_MANIFEST_BYTES) {
        throw new RktError("invalid-argument", `${label}: its manifest is not a regular file of at most ${MAX_ACI_MANIFEST_BYTES} bytes`);
      }
      const chunks: Buffer[] = [];
      for await (const chunk of Readable.from(entry)) chunks.push(chunk as Buffer);
      return parseAciManifest(Buffer.concat(chunks), label);
    }
  } catch (err) {
    if (err instanceof RktError) throw err;
    throw wrap(`${label}: reading the ACI`, err, "invalid-argument");
  } finally {
    source.destroy();
    unpacked.destroy();
    tar.destroy();
  }
  throw new RktError("invalid-argument", `${label}: not an ACI: it has no "manifest" file`, { hint: "an ACI is a tar holding manifest and rootfs/; build one with `rkt image build`" });
}
