/**
 * rkt's global flags, resolved once by the entry point and passed down (side effects at the
 * edges: nothing below reads argv or env for these).
 */
import type { InsecureOptions } from "./insecure-options.js";

export interface GlobalOptions {
  /** `--dir`: the data directory (default /var/lib/rkt). */
  readonly dataDir: string;
  /** `--system-config` (default /usr/lib/rkt): vendor configuration. */
  readonly systemConfigDir: string;
  /** `--local-config` (default /etc/rkt): the administrator's configuration. */
  readonly localConfigDir: string;
  /** `--user-config`: the user's configuration, highest precedence (empty: none). */
  readonly userConfigDir: string;
  readonly insecure: InsecureOptions;
  readonly trustKeysFromHttps: boolean;
  readonly debug: boolean;
}
