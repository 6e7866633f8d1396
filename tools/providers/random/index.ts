// Entry of the pulumi-resource-random stand-in plugin (see ../README.md).
import { main } from "@pulumi/pulumi/provider";
import { randomProvider } from "./randomBytes";

void main(randomProvider(), process.argv.slice(2));
