// connection.hostKey: an authorized_keys-format public key ("ssh-ed25519 AAAA... [comment]") that
// the server's host key must equal; unset means no check, as in the real provider. Pure.
export interface ParsedKey { type: string; blob: Buffer }

export function parseAuthorizedKey(text: string): ParsedKey {
    const fields = text.trim().split(/\s+/);
    // authorized_keys lines may carry options before the key type; find the type field.
    const i = fields.findIndex((f) => /^(ssh-|ecdsa-sha2-|sk-)/.test(f));
    if (i < 0 || i + 1 >= fields.length) throw new Error("ssh: no key found");
    const blob = Buffer.from(fields[i + 1], "base64");
    // The blob starts with its own type string; a mismatch means a corrupt or mislabelled key.
    if (blob.length < 4) throw new Error("ssh: no key found");
    const n = blob.readUInt32BE(0);
    const inner = blob.subarray(4, 4 + n).toString("latin1");
    if (inner !== fields[i]) throw new Error(`ssh: no key found`);
    return { type: fields[i], blob };
}

export function hostKeyMatches(expected: ParsedKey, presented: Buffer): boolean {
    return expected.blob.equals(presented);
}

/** Go's ssh.FixedHostKey error, wrapped by ssh.Dial's handshake error. */
export const HOST_KEY_MISMATCH = "ssh: handshake failed: ssh: host key mismatch";

export function describePresented(presented: Buffer): string {
    const n = presented.readUInt32BE(0);
    return `${presented.subarray(4, 4 + n).toString("latin1")} ${presented.toString("base64")}`;
}
