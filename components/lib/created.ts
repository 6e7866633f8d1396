// A targeted run (`npm run deploy -- --only ...`) leaves out servers the stack may never have
// created; the engine then answers for their resources with their inputs only, so a command has
// no stdout. Such values become unknown, as in a preview, instead of failing the whole run.
import * as pulumi from "@pulumi/pulumi";

export function createdOnly<T>(o: pulumi.Output<T | undefined>): pulumi.Output<T> {
  return o.apply((v) => (v === undefined ? (pulumi.unknown as unknown as T) : v));
}
