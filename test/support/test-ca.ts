/**
 * Throwaway X.509 material made with the openssl CLI: a CA, server certificates for 127.0.0.1
 * signed by it (for the TLS registry), and a self-signed RSA certificate (for signing registry
 * tokens). Valid for two days; nothing is trusted system-wide.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execTool } from "./exec-tool.js";

/** A certificate and its key, as PEM files. */
export interface CertFiles {
  /** PEM certificate. */
  readonly certFile: string;
  /** PEM private key (unencrypted). */
  readonly keyFile: string;
}

/**
 * Creates a CA (EC P-256) in `dir` as `<name>.crt` / `<name>.key`.
 *
 * @example
 * const ca = await createTestCa(dir);
 * const server = await issueServerCert(ca, dir);
 */
export async function createTestCa(dir: string, name = "ca"): Promise<CertFiles> {
  const files = { certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) };
  await execTool("openssl", [
    "req", "-x509", "-new", "-nodes", "-days", "2",
    "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
    "-keyout", files.keyFile, "-out", files.certFile,
    "-subj", "/CN=rkt test CA",
    "-addext", "basicConstraints=critical,CA:TRUE",
    "-addext", "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  return files;
}

/**
 * Issues a server certificate signed by `ca` for IP 127.0.0.1 and DNS localhost (in the subject
 * alternative names, which is what TLS clients check), as `<name>.crt` / `<name>.key` in `dir`.
 */
export async function issueServerCert(ca: CertFiles, dir: string, name = "server", ip = "127.0.0.1"): Promise<CertFiles> {
  const files = { certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) };
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  await writeFile(
    ext,
    [
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature,keyEncipherment",
      "extendedKeyUsage=serverAuth",
      `subjectAltName=IP:${ip},DNS:localhost`,
      "",
    ].join("\n"),
  );
  await execTool("openssl", [
    "req", "-new", "-nodes",
    "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
    "-keyout", files.keyFile, "-out", csr, "-subj", `/CN=${ip}`,
  ]);
  await execTool("openssl", [
    "x509", "-req", "-in", csr, "-CA", ca.certFile, "-CAkey", ca.keyFile, "-CAcreateserial",
    "-days", "2", "-extfile", ext, "-out", files.certFile,
  ]);
  return files;
}

/** A self-signed RSA 2048 certificate, `<name>.crt` / `<name>.key` in `dir` (token signing: RS256). */
export async function selfSignedRsaCert(dir: string, name: string, subject: string): Promise<CertFiles> {
  const files = { certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) };
  await execTool("openssl", [
    "req", "-x509", "-new", "-nodes", "-days", "2", "-newkey", "rsa:2048",
    "-keyout", files.keyFile, "-out", files.certFile, "-subj", subject,
  ]);
  return files;
}
