// Entry of the pulumi-resource-command stand-in plugin (see ../README.md).
import { main } from "@pulumi/pulumi/provider";
import { connectEngine, engineAddress } from "../common/engineLog";
import { commandProvider } from "./provider";
import { cancelAll } from "./run";

const args = process.argv.slice(2);
connectEngine(engineAddress(args));
// The engine interrupts plugins on Ctrl-C; stop running commands before exiting.
for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.on(sig, () => {
        cancelAll();
        process.exit(1);
    });
}
void main(commandProvider(), args);
