// What a simulated host looks like from the inside, read without SSH, for end-to-end assertions.
import { SimHost } from "../harness/hosts";

export interface HostState {
    generation: number;
    /** Store path of /run/current-system. */
    system: string;
    /** "armed", "firing" or "none", as the host scripts see it. */
    watchdog: string;
    failedUnits: string[];
}

export async function hostState(h: SimHost): Promise<HostState> {
    const watchdog = (await h.run("if systemctl is-active --quiet nhs-watchdog.timer; then echo armed; elif systemctl is-active --quiet nhs-watchdog.service; then echo firing; else echo none; fi")).stdout.trim();
    const failed = (await h.run("systemctl --failed --no-legend --plain 2>/dev/null | awk '{print $1}'")).stdout.split("\n").filter((l) => l !== "");
    return { generation: await h.generation(), system: await h.currentSystem(), watchdog, failedUnits: failed };
}

/** Waits until `pred` holds, polling; returns the last value seen. */
export async function waitFor<T>(read: () => Promise<T>, pred: (v: T) => boolean, seconds: number): Promise<T> {
    const end = Date.now() + seconds * 1000;
    let v = await read();
    while (!pred(v) && Date.now() < end) {
        await new Promise((r) => setTimeout(r, 500));
        v = await read();
    }
    return v;
}
