// End to end, access: two stacks on one host meet only at its deploy lock; bootstrap credentials are
// needed only until the key is in (CI without them works); rotation goes over the current key, so it
// works with password logins off.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimHost, startHosts } from "../harness/hosts";
import { E2EProject } from "../harness/project";

let host: SimHost;
let a: E2EProject;
let b: E2EProject;

beforeAll(async () => {
  [host] = await startHosts(1, { names: ["acc1"] });
  a = await E2EProject.create([host], { stack: "alpha" });
  b = await E2EProject.create([host], { stack: "beta" });
});

afterAll(async () => {
  await a?.remove();
  await b?.remove();
  await host?.stop();
});

const keyLines = async () => (await host.mustRun(`cat /home/${host.bootstrapUser}/.ssh/authorized_keys`)).split("\n").filter(Boolean);

describe("two stacks, one host", () => {
  it("deploying at the same moment: both keys stay, the second fails on the host's deploy lock, then succeeds", async () => {
    // Forced overlap, not a race: alpha's generation activates slowly, and beta starts once alpha's
    // deploy has begun on the host, so beta reaches the host while alpha holds it.
    a.setReleaseFault(host.name, "slow-activation:20");
    const upA = a.up();
    const deployStarted = async () => (await host.run("grep -c deploy-started /var/lib/nixos-home-server/events.jsonl")).stdout.trim() === "1";
    for (let i = 0; i < 600 && !(await deployStarted()); i++) await new Promise((r) => setTimeout(r, 100));
    expect(await deployStarted()).toBe(true);
    const [ra, rb] = await Promise.all([upA, b.up()]);
    a.setReleaseFault(host.name, "");
    // Alpha got the host; beta failed on the host's lock or on alpha's unconfirmed deploy, never
    // on authentication.
    expect(ra.error ?? "").toBe("");
    expect(rb.ok).toBe(false);
    const loser = rb;
    expect(loser.error).toMatch(/deploy lock held by deploy pid \d+ since \d+; another deploy is running|is not confirmed yet and its watchdog is armed; run verify or rollback first/);
    expect(loser.error).not.toMatch(/unable to authenticate|handshake failed/);
    const lines = await keyLines();
    expect(lines.filter((l) => l.endsWith(" nhs-deploy@alpha/acc1"))).toHaveLength(1);
    expect(lines.filter((l) => l.endsWith(" nhs-deploy@beta/acc1"))).toHaveLength(1);
    // The loser retries and gets through with its own key, after the winner's deploy.
    const retry = await b.up();
    expect(retry.error ?? "").toBe("");
    expect(retry.ok).toBe(true);
    expect(await keyLines()).toEqual(lines);
  });
});

describe("bootstrap credentials only until the key is in", () => {
  it("password logins off, no bootstrap password in the stack (as in CI): up and a key rotation still work", async () => {
    // What ssh.nix does once the deploy key is in: no password logins at all.
    await host.mustRun("sed -i 's/PasswordAuthentication yes/PasswordAuthentication no/' /etc/ssh/nhs_sshd_config && kill -HUP $(cat /var/lib/nhs-sim/units/sshd.service/pid)");
    await (await a.stack()).removeConfig(`nixos-home-server:${host.name}Password`);
    const before = (await a.outputs()).servers[host.name].deployPublicKey as string;

    a.setServer(host.name, { deployKeyRotation: 2 });
    const r = await a.up();
    expect(r.error ?? "").toBe("");
    expect(r.ok).toBe(true);
    expect(r.output).toMatch(/config key "nixos-home-server:acc1Password" is not set; fine once this stack's deploy key is on the host/);
    const after = (await a.outputs()).servers[host.name].deployPublicKey as string;
    expect(after).not.toBe(before);
    // Only the new key is authorized for this stack, in ~/.ssh and in what NixOS declares; beta's stays.
    const lines = await keyLines();
    expect(lines.filter((l) => l.endsWith(" nhs-deploy@alpha/acc1")).map((l) => l.split(" ").slice(-2)[0])).toEqual([after.split(" ")[1]]);
    expect(lines.filter((l) => l.endsWith(" nhs-deploy@beta/acc1"))).toHaveLength(1);
    expect(await host.mustRun(`cat /etc/ssh/authorized_keys.d/${host.bootstrapUser}`)).toContain(after.split(" ")[1]);
    expect(await host.mustRun(`cat /etc/ssh/authorized_keys.d/${host.bootstrapUser}`)).not.toContain(before.split(" ")[1]);
    // A no-op after that needs no credentials and runs nothing.
    const again = await a.up();
    expect(again.ok).toBe(true);
  });
});
