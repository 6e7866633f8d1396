// The SDK's debug log keeps its RPC lines without their payloads (which carry outputs, secrets included).
import { describe, expect, it } from "vitest";
import { withoutRpcPayload } from "../../components/debugLog";

describe("debug log redaction", () => {
  it("drops the response of every 'RPC finished' line and keeps other lines whole", () => {
    const secret = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----";
    expect(withoutRpcPayload(`RegisterResource RPC finished: resource:x[command:remote:Command]; err: null, resp: urn,id,${secret},,`)).toBe(
      "RegisterResource RPC finished: resource:x[command:remote:Command]; err: null, resp: [payload not logged by nixos-home-server: it may hold secrets]",
    );
    expect(withoutRpcPayload(`RegisterResourceOutputs RPC finished: urn=u; err: null, resp: ${secret}`)).not.toContain("PRIVATE KEY");
    expect(withoutRpcPayload(`Invoke RPC finished: tok=t; err: null, resp: ${secret}`)).not.toContain("PRIVATE KEY");
    expect(withoutRpcPayload("Registering resource: t=command:remote:Command, name=x")).toBe("Registering resource: t=command:remote:Command, name=x");
  });
});
