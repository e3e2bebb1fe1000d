/**
 * Where the metadata service is found by default (rkt's values): the registration socket that
 * `rkt run --mds-register` connects to, and the app-facing port. A file of its own so that `rkt
 * run` can know them without loading the service.
 */

/** The registration API's unix socket. */
export const METADATA_REGISTRATION_SOCKET = "/run/rkt/metadata-svc.sock";
/** The app-facing API's port. */
export const DEFAULT_METADATA_PORT = 18112;
