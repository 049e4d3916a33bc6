/**
 * A failed TLS handshake with a tcp:// daemon, in the daemon's terms: which daemon, chosen how,
 * and what to check. Node reports these as bare OpenSSL words ("unable to verify the first
 * certificate") with a code; the docker CLI says "tls: failed to verify certificate".
 */
import { DaemonError } from "../errors.js";
import type { Endpoint } from "./endpoint.js";

/** OpenSSL's verification failures: the daemon's certificate is not trusted by the CA in use. */
const UNTRUSTED = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_SIGNATURE_FAILURE",
  "CERT_UNTRUSTED",
]);

/** The error as a DaemonError when it is a TLS failure reaching `endpoint`, else undefined. */
export function explainTlsError(err: unknown, endpoint: Endpoint): DaemonError | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== "string" || !(err instanceof Error)) return undefined;
  const where = `${endpoint.host} (${endpoint.source})`;
  const ca =
    endpoint.context !== "default"
      ? `the CA of context "${endpoint.context}"`
      : endpoint.tls?.ca
        ? `the CA ${endpoint.tls.ca}`
        : "the system's CAs";
  if (UNTRUSTED.has(code))
    return new DaemonError(
      `tls: failed to verify the certificate of the Docker daemon at ${where}: ${err.message} (not signed by ${ca})`,
      "Check the context's ca.pem ('docker context inspect'), or --tlscacert / DOCKER_CERT_PATH.",
    );
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID" || code === "CERT_HAS_EXPIRED" || code === "CERT_NOT_YET_VALID")
    return new DaemonError(
      `tls: the certificate of the Docker daemon at ${where} is not valid: ${err.message}`,
    );
  if (/^ERR_SSL_|^ERR_TLS_/.test(code)) {
    // OpenSSL's "…:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:…": the alert alone.
    const alert = /:(?:sslv3|tlsv1[0-9]?) (alert [^:]+):/.exec(err.message)?.[1];
    return new DaemonError(
      `tls: the handshake with the Docker daemon at ${where} failed: ${alert ? `the daemon answered "${alert}"` : err.message.trim()}`,
      "The daemon may refuse this client certificate (cert.pem, key.pem), or not speak TLS.",
    );
  }
  return undefined;
}
