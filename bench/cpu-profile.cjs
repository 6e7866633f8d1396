// Preload for bench/profile.ts (NODE_OPTIONS=--require): a CPU profile of every Node process the
// engine starts (program, plugins), written as $PROF_DIR/cpu/<pid>.cpuprofile when it exits.
// --cpu-prof itself is refused in NODE_OPTIONS, and the language host passes no node flags.
const inspector = require("node:inspector");
const fs = require("node:fs");
const path = require("node:path");
const dir = path.join(process.env.PROF_DIR || "/tmp/prof", "cpu");
const session = new inspector.Session();
session.connect();
session.post("Profiler.enable");
session.post("Profiler.setSamplingInterval", { interval: 500 });
session.post("Profiler.start");
let written = false;
function write() {
  if (written) return;
  written = true;
  session.post("Profiler.stop", (err, result) => {
    if (err) return;
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, `${process.pid}.cpuprofile`), JSON.stringify(result.profile));
  });
}
process.on("exit", write);
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => { write(); process.exit(1); });
