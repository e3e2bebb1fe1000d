/** `rkt image list`: the images in the store, as rkt printed them. */
import { listImages, type ImageListing } from "../../engine/image/list-images.js";
import { ImageStore } from "../../image/store/image-store.js";
import { RktError } from "../../lib/errors.js";
import { boolFlag, stringFlag } from "../args/flags.js";
import { defineCommand } from "../command.js";
import { absoluteTime, humanSize, relativeTime } from "../output/human.js";
import { formatImageId } from "../output/image-id.js";
import { renderTable } from "../output/table.js";

const FIELDS = ["id", "name", "size", "importtime", "lastused", "latest"] as const;
type Field = (typeof FIELDS)[number];
const HEADERS: Record<Field, string> = { id: "ID", name: "NAME", size: "SIZE", importtime: "IMPORT TIME", lastused: "LAST USED", latest: "LATEST" };

export const imageListCommand = defineCommand({
  path: ["image", "list"],
  summary: "List images in the local store",
  usage: "image list [--fields=...] [--sort=...] [--order=asc|desc] [--full] [--no-legend] [--format=json|json-pretty]",
  flags: {
    fields: stringFlag(`comma-separated list of fields to display: ${FIELDS.join(", ")}`, "id,name,size,importtime,lastused"),
    sort: stringFlag("sort the output by: name, importtime, lastused, size", "importtime", ["name", "importtime", "lastused", "size", "id"]),
    order: stringFlag("choose the sorting order: asc or desc", "asc", ["asc", "desc"]),
    full: boolFlag("use long output format (full IDs, bytes, absolute times)"),
    noLegend: boolFlag("suppress a legend with the list"),
    format: stringFlag("choose the output format: json, json-pretty", "", ["", "json", "json-pretty"]),
  },
  async run(ctx, { values }) {
    const fields = values.fields.split(",").map((f) => f.trim().toLowerCase()) as Field[];
    for (const f of fields) {
      if (!FIELDS.includes(f)) throw new RktError("invalid-argument", `unknown field "${f}" for --fields`, { hint: `valid fields: ${FIELDS.join(", ")}` });
    }
    const store = ImageStore.open(ctx.globals.dataDir);
    const rows = sortListings(listImages(store), values.sort, values.order === "desc");
    if (values.format !== "") {
      const json = rows.map(({ record, names }) => ({
        id: formatImageId(record.id, "full"),
        name: names[0] ?? "",
        names,
        format: record.format,
        import_time: Date.parse(record.importTime) * 1e6,
        last_used: Date.parse(record.lastUsed) * 1e6,
        size: record.size,
      }));
      ctx.out.stdout(`${values.format === "json-pretty" ? JSON.stringify(json, null, 2) : JSON.stringify(json)}\n`);
      return Promise.resolve(0);
    }
    const now = new Date();
    const cell = (l: ImageListing, f: Field, name: string): string => {
      switch (f) {
        case "id":
          return formatImageId(l.record.id, values.full ? "full" : 12);
        case "name":
          return name;
        case "size":
          return values.full ? l.record.size.toString() : humanSize(l.record.size);
        case "importtime":
          return values.full ? absoluteTime(new Date(l.record.importTime)) : relativeTime(new Date(l.record.importTime), now);
        case "lastused":
          return values.full ? absoluteTime(new Date(l.record.lastUsed)) : relativeTime(new Date(l.record.lastUsed), now);
        case "latest":
          return String(name.endsWith(":latest"));
      }
    };
    // One row per name, like podman: an image with two tags shows twice; one without names once.
    const table = rows.flatMap((l) => (l.names.length > 0 ? l.names : ["<none>"]).map((n) => fields.map((f) => cell(l, f, n))));
    ctx.out.stdout(renderTable(fields.map((f) => HEADERS[f]), table, { legend: !values.noLegend }));
    return Promise.resolve(0);
  },
});

function sortListings(list: ImageListing[], by: string, desc: boolean): ImageListing[] {
  const key = (l: ImageListing): string | number => {
    switch (by) {
      case "name":
        return l.names[0] ?? "";
      case "lastused":
        return l.record.lastUsed;
      case "size":
        return l.record.size;
      case "id":
        return l.record.id;
      default:
        return l.record.importTime;
    }
  };
  const sorted = [...list].sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
  return desc ? sorted.reverse() : sorted;
}
