// The offline toolchain against the real engine: no mocks. An Automation API inline
// program (the SDK hosts the language runtime itself) and a `runtime: nodejs` TypeScript
// project (through the built pulumi-language-nodejs) run on the file backend with the
// passphrase secrets provider, and must show create -> no changes -> delete. The dynamic resource makes the engine start a real
// provider plugin process (pulumi-resource-pulumi-nodejs), found through pulumiEnv's PATH.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { LocalWorkspace, PulumiCommand, type Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PULUMI_VERSION, pulumiEnv, pulumiExecutable, repoRoot, toolchainBin, toolchainReady } from "../../scripts/pulumi-env";

const root = repoRoot();
// Inside the repo so the program and the dynamic provider resolve the repo's node_modules.
const scratch = path.join(root, ".tmp");

function providerBuilt(name: string): boolean {
  return fs.existsSync(path.join(toolchainBin(), `pulumi-resource-${name}`));
}

// A provider with no network and no state outside Pulumi: create draws a token, diff
// reports a change only when the input changes.
const tokenProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: { label: string }) {
    const token = require("crypto").randomBytes(8).toString("hex");
    return { id: `${inputs.label}-${token}`, outs: { label: inputs.label, token } };
  },
  async diff(_id: string, olds: { label: string }, news: { label: string }) {
    return { changes: olds.label !== news.label, replaces: olds.label !== news.label ? ["label"] : [] };
  },
};

class Token extends pulumi.dynamic.Resource {
  declare readonly token: pulumi.Output<string>;
  constructor(name: string, label: string) {
    super(tokenProvider, name, { label, token: undefined }, {});
  }
}

class Box extends pulumi.ComponentResource {
  constructor(name: string) {
    super("nhs:test:Box", name, {}, {});
    this.registerOutputs({});
  }
}

describe("offline Pulumi toolchain with the real engine", () => {
  let dir = "";
  let env: Record<string, string> = {};
  let pulumiCommand: PulumiCommand;

  beforeAll(async () => {
    if (!toolchainReady()) {
      throw new Error(`no Pulumi ${PULUMI_VERSION} in ${toolchainBin()}: run tools/pulumi/build.sh (scripts/setup.sh does)`);
    }
    fs.mkdirSync(scratch, { recursive: true });
    dir = fs.mkdtempSync(path.join(scratch, "engine-"));
    fs.mkdirSync(path.join(dir, "state"));
    env = {
      ...pulumiEnv(root),
      PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`,
      PULUMI_CONFIG_PASSPHRASE: "toolchain-test-passphrase",
    };
    // skipVersionCheck stays false: the SDK itself checks the CLI is new enough.
    pulumiCommand = await PulumiCommand.get({ root: path.dirname(toolchainBin()) });
  });

  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  async function stackFor(name: string, program: () => Promise<Record<string, unknown>>): Promise<Stack> {
    return LocalWorkspace.createOrSelectStack(
      { projectName: name, stackName: "test", program },
      {
        workDir: dir,
        pulumiCommand,
        envVars: env,
        projectSettings: { name, runtime: "nodejs", backend: { url: env.PULUMI_BACKEND_URL } },
      },
    );
  }

  it("is the pinned CLI version", () => {
    expect(`v${pulumiCommand.version?.toString()}`).toBe(PULUMI_VERSION);
  });

  it("previews, creates, finds no changes, and destroys", async () => {
    const stack = await stackFor("toolchain-engine", async () => {
      new Box("box");
      const token = new Token("token", "first");
      return { token: token.token, secret: pulumi.secret("not-in-plaintext") };
    });

    const preview = await stack.preview();
    expect(preview.changeSummary).toEqual({ create: 3 });

    const up = await stack.up();
    expect(up.summary.result).toBe("succeeded");
    expect(up.summary.resourceChanges).toEqual({ create: 3 });
    expect(up.outputs.token.value).toMatch(/^[0-9a-f]{16}$/);
    expect(up.outputs.secret.secret).toBe(true);

    const again = await stack.up();
    expect(again.summary.resourceChanges).toEqual({ same: 3 });
    const token = again.outputs.token.value;
    expect(token).toBe(up.outputs.token.value);

    // The secret is encrypted in the state file, never stored in plaintext.
    const stateText = fs
      .readdirSync(path.join(dir, "state"), { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && e.name.endsWith(".json"))
      .map((e) => fs.readFileSync(path.join(e.parentPath, e.name), "utf8"))
      .join("\n");
    expect(stateText).toContain(token);
    expect(stateText).not.toContain("not-in-plaintext");

    const destroy = await stack.destroy();
    expect(destroy.summary.resourceChanges).toEqual({ delete: 3 });
    await stack.workspace.removeStack("test");
  });

  it("runs a runtime: nodejs TypeScript project through the built language host", () => {
    expect(fs.existsSync(path.join(toolchainBin(), "pulumi-language-nodejs"))).toBe(true);
    const project = path.join(dir, "project");
    fs.mkdirSync(project);
    fs.writeFileSync(path.join(project, "Pulumi.yaml"), "name: toolchain-project\nruntime: nodejs\n");
    fs.writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "toolchain-project", main: "index.ts" }));
    // Type-checked by ts-node at run time: a type error here would fail the run.
    fs.writeFileSync(
      path.join(project, "index.ts"),
      [
        'import * as pulumi from "@pulumi/pulumi";',
        "const provider: pulumi.dynamic.ResourceProvider = {",
        "  async create(inputs: { label: string }) {",
        '    return { id: `${inputs.label}-${require("crypto").randomBytes(4).toString("hex")}`, outs: inputs };',
        "  },",
        "};",
        "class Token extends pulumi.dynamic.Resource {",
        "  constructor(name: string) { super(provider, name, { label: name }, {}); }",
        "}",
        'class Box extends pulumi.ComponentResource {',
        '  constructor(name: string) { super("nhs:test:Box", name, {}, {}); this.registerOutputs({}); }',
        "}",
        'new Box("box");',
        'export const tokenId = new Token("token").id;',
        "",
      ].join("\n"),
    );
    const cli = (...args: string[]) => {
      const r = spawnSync(pulumiExecutable(), [...args, "--non-interactive"], { cwd: project, env: { ...process.env, ...env }, encoding: "utf8" });
      return { code: r.status, out: `${r.stdout}${r.stderr}` };
    };
    expect(cli("stack", "init", "project").code).toBe(0);
    const up = cli("up", "--yes", "--skip-preview");
    expect(up.out).toMatch(/\+ 3 created/);
    expect(up.code).toBe(0);
    const noChanges = cli("preview", "--expect-no-changes");
    expect(noChanges.out).toMatch(/3 unchanged/);
    expect(noChanges.code).toBe(0);
    expect(cli("stack", "output", "tokenId").out.trim()).toMatch(/^token-[0-9a-f]{8}$/);
    const destroy = cli("destroy", "--yes");
    expect(destroy.out).toMatch(/- 3 deleted/);
    expect(destroy.code).toBe(0);
    expect(cli("stack", "rm", "--yes", "project").code).toBe(0);
  });

  // The real providers pinned by package.json. Their Go modules are not served here
  // (tools/pulumi/README.md), so build.sh cannot produce them yet; this runs once it does.
  it.skipIf(!providerBuilt("random") || !providerBuilt("command"))(
    "runs @pulumi/random 4.21.2 and @pulumi/command 1.2.1 through the built providers",
    async () => {
      const random = await import("@pulumi/random");
      const command = await import("@pulumi/command");
      const stack = await stackFor("toolchain-providers", async () => {
        const bytes = new random.RandomBytes("bytes", { length: 8 });
        const echo = new command.local.Command("echo", { create: "printf nhs" });
        return { hex: bytes.hex, stdout: echo.stdout };
      });
      expect((await stack.preview()).changeSummary).toEqual({ create: 3 });
      const up = await stack.up();
      expect(up.summary.resourceChanges).toEqual({ create: 3 });
      expect(up.outputs.stdout.value).toBe("nhs");
      expect((await stack.up()).summary.resourceChanges).toEqual({ same: 3 });
      expect((await stack.destroy()).summary.resourceChanges).toEqual({ delete: 3 });
      await stack.workspace.removeStack("test");
    },
  );
});
