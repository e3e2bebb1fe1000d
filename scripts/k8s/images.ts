/**
 * The workshop's images, built offline as OCI layouts (the tests' fixtures: busybox from the host's
 * busybox-static, nginx from the host's Debian nginx and its libraries), for cluster.sh to push to
 * its local registry as docker.io's library/busybox:1.36 and library/nginx:1.25.
 *
 * Usage: node --import tsx scripts/k8s/images.ts OUT_DIR   (writes OUT_DIR/busybox, OUT_DIR/nginx)
 */
import { join } from "node:path";
import { busyboxImage } from "../../test/support/image-fixtures.js";
import { nginxImage } from "../../test/workshop/workshop-fixture.js";

const out = process.argv[2];
if (out === undefined) throw new Error("usage: images.ts OUT_DIR");
await busyboxImage({ dir: join(out, "busybox") });
await nginxImage(join(out, "nginx"), "80");
process.stderr.write(`images: busybox and nginx layouts in ${out}\n`);
