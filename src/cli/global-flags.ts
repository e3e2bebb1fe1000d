/** rkt's global flags (accepted by every command, before or after the command words). */
import { parseInsecureOptions } from "../config/insecure-options.js";
import type { GlobalOptions } from "../config/global-options.js";
import { boolFlag, listFlag, stringFlag, type FlagValues } from "./args/flags.js";

export const globalFlags = {
  dir: stringFlag("rkt data directory", "/var/lib/rkt"),
  systemConfig: stringFlag("system configuration directory", "/usr/lib/rkt"),
  localConfig: stringFlag("local configuration directory", "/etc/rkt"),
  userConfig: stringFlag("user configuration directory", ""),
  insecureOptions: listFlag("comma-separated list of security features to disable: none, image, tls, http, pubkey, ondisk, capabilities, paths, seccomp, all-fetch, all-run, all", true),
  trustKeysFromHttps: boolFlag("automatically trust gpg keys fetched from https"),
  debug: boolFlag("print out more debug information to stderr"),
  help: boolFlag("help for the command"),
} as const;

export function globalOptionsFrom(values: FlagValues<typeof globalFlags>): GlobalOptions {
  return {
    dataDir: values.dir,
    systemConfigDir: values.systemConfig,
    localConfigDir: values.localConfig,
    userConfigDir: values.userConfig,
    insecure: parseInsecureOptions(values.insecureOptions),
    trustKeysFromHttps: values.trustKeysFromHttps,
    debug: values.debug,
  };
}
