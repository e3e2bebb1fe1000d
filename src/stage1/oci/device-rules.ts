/**
 * The device cgroup rules of an app (config-linux.md "Allowed Device list", applied in order):
 * deny everything, then allow the devices the runtime creates in the app's /dev
 * (config-linux.md "Default Devices"), the same list as runc's default spec. A device node that a
 * hostile image ships in its rootfs, or that CAP_MKNOD creates, stays unusable.
 */
import type { SpecDeviceCgroupRule } from "./runtime-spec-types.js";

const rw = (major: number, minor: number | undefined): SpecDeviceCgroupRule =>
  minor === undefined ? { allow: true, type: "c", major, access: "rwm" } : { allow: true, type: "c", major, minor, access: "rwm" };

/**
 * Deny all, then allow /dev/null, zero, full, random, urandom, tty, console, ptmx and the
 * container's ptys (/dev/pts/*, char major 136).
 *
 * @example
 * DEFAULT_DEVICE_RULES[0]; // { allow: false, access: "rwm" }
 */
export const DEFAULT_DEVICE_RULES: readonly SpecDeviceCgroupRule[] = [
  { allow: false, access: "rwm" },
  rw(1, 3), // /dev/null
  rw(1, 5), // /dev/zero
  rw(1, 7), // /dev/full
  rw(1, 8), // /dev/random
  rw(1, 9), // /dev/urandom
  rw(5, 0), // /dev/tty
  rw(5, 1), // /dev/console
  rw(5, 2), // /dev/ptmx
  rw(136, undefined), // /dev/pts/*
];

/**
 * No restriction: the rule list for stage1-fly and `--insecure-options=paths`. Written out rather
 * than left empty, because runc reads an empty list as "deny all but its defaults".
 */
export const ALLOW_ALL_DEVICE_RULES: readonly SpecDeviceCgroupRule[] = [{ allow: true, access: "rwm" }];
