/**
 * Where the image store keeps things under `--dir` (default /var/lib/rkt). Everything lives under
 * `cas/` like rkt's store, but holds OCI content natively instead of converted ACIs:
 *
 * ```
 * cas/blobs/sha256/<hex>           verified, immutable content: manifests, configs, layer blobs
 * cas/layers/sha256/<hex>/rootfs   a layer unpacked once (key: its diff_id), an overlayfs lowerdir
 * cas/layers/sha256/<hex>/info.json  what was unpacked: blob digest, sizes, tree digest
 * cas/images/<hex>.json            one record per image (key: manifest digest)
 * cas/refs/<sha256(name)>.json     a name (`registry-1.docker.io/library/nginx:latest`) -> image
 * cas/tmp/                         work in progress; never read as content
 * cas/locks/                       flock(2) files
 * ```
 *
 * Nothing becomes visible under a final name until it is complete and verified (rename), so a
 * SIGKILL at any moment leaves only `tmp/` entries, which the next command sweeps.
 */
import { join } from "node:path";
import { RktError } from "../../lib/errors.js";
import { DIGEST_FORMAT_HINT, parseDigest, type ParsedDigest } from "../formats/digest.js";

export class StorePaths {
  readonly cas: string;
  readonly tmp: string;
  readonly locks: string;

  constructor(readonly dataDir: string) {
    this.cas = join(dataDir, "cas");
    this.tmp = join(this.cas, "tmp");
    this.locks = join(this.cas, "locks");
  }

  blob(digest: string): string {
    const { algorithm, hex } = splitDigest(digest);
    return join(this.cas, "blobs", algorithm, hex);
  }

  layerDir(diffId: string): string {
    const { algorithm, hex } = splitDigest(diffId);
    return join(this.cas, "layers", algorithm, hex);
  }

  layersRoot(): string {
    return join(this.cas, "layers");
  }

  blobsRoot(): string {
    return join(this.cas, "blobs");
  }

  imagesDir(): string {
    return join(this.cas, "images");
  }

  image(id: string): string {
    return join(this.imagesDir(), `${splitDigest(id).hex}.json`);
  }

  refsDir(): string {
    return join(this.cas, "refs");
  }

  lock(name: string): string {
    return join(this.locks, `${name}.lck`);
  }
}

/** Splits `sha256:abc...` and checks it, so no digest from outside can name a path. */
export function splitDigest(digest: string): ParsedDigest {
  const parsed = parseDigest(digest);
  if (parsed === undefined) throw new RktError("invalid-argument", `malformed digest "${digest}": ${DIGEST_FORMAT_HINT}`);
  return parsed;
}
