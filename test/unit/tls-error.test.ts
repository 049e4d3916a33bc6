/** TLS handshake failures with a tcp:// daemon, named in the daemon's terms (docker/tls-error.ts). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Endpoint } from "../../src/docker/endpoint.js";
import { explainTlsError } from "../../src/docker/tls-error.js";
import { DaemonError } from "../../src/errors.js";

const nodeError = (code: string, message: string) => Object.assign(new Error(message), { code });
const ofContext: Endpoint = {
  host: "tcp://127.0.0.1:2376",
  context: "prod",
  source: 'from context "prod" (--context)',
  configDir: "/cfg",
  tls: { ca: "/cfg/contexts/tls/x/docker/ca.pem", verify: true },
};
const ofFlags: Endpoint = { ...ofContext, context: "default", source: "from -H/--host" };

describe("explainTlsError", () => {
  it("an untrusted daemon certificate names the daemon, how it was chosen, and whose CA", () => {
    const err = explainTlsError(
      nodeError("UNABLE_TO_VERIFY_LEAF_SIGNATURE", "unable to verify the first certificate"),
      ofContext,
    );
    assert.ok(err instanceof DaemonError);
    assert.equal(
      err.message,
      'tls: failed to verify the certificate of the Docker daemon at tcp://127.0.0.1:2376 (from context "prod" (--context)): unable to verify the first certificate (not signed by the CA of context "prod")',
    );
    const flags = explainTlsError(nodeError("SELF_SIGNED_CERT_IN_CHAIN", "self-signed"), ofFlags);
    assert.match(flags!.message, /not signed by the CA \/cfg\/contexts\/tls\/x\/docker\/ca.pem\)$/);
  });
  it("an alert from the daemon (a refused client certificate) is quoted without OpenSSL's noise", () => {
    const err = explainTlsError(
      nodeError(
        "ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE",
        "80FC010B6D7F0000:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 42\n",
      ),
      ofContext,
    );
    assert.match(err!.message, /failed: the daemon answered "alert bad certificate"$/);
    assert.match(err!.hint!, /client certificate/);
  });
  it("anything else is not a TLS failure", () => {
    assert.equal(explainTlsError(nodeError("ECONNREFUSED", "refused"), ofContext), undefined);
    assert.equal(explainTlsError(new Error("plain"), ofContext), undefined);
    assert.equal(explainTlsError("text", ofContext), undefined);
  });
});
