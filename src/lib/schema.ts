/**
 * The schema library for everything rkt parses from outside (manifests, configs, auth files, store
 * records): zod/mini, the functional build of zod 4 (`z.optional(x)`, `x.check(z.minLength(1))`).
 * It validates exactly like the classic `zod` API, but the bundler keeps only what rkt uses: the
 * classic API put ~750 KB into the bundle and cost every command tens of milliseconds at start-up.
 *
 * zod/mini installs no locale, so every issue would read just "Invalid input". This module installs
 * the English messages the classic API uses before any schema runs; import zod through here, never
 * from "zod" or "zod/mini" directly.
 *
 * @example
 * import * as z from "../lib/schema.js";
 * const nameSchema = z.string().check(z.minLength(1));
 * type Name = z.infer<typeof nameSchema>;
 */
import { en } from "zod/locales";
import { config } from "zod/mini";

config(en());

export * from "zod/mini";
