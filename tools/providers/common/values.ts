// Property values as the engine sends them to a provider that accepts secrets: secrets arrive
// wrapped in signature objects and unknowns (preview) as a sentinel string. Providers must unwrap
// them to act, and wrap outputs again so secret-ness survives the round trip into state.
export const SIG_KEY = "4dabf18193072939515e22adb298388d";
export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export function isSecret(v: unknown): v is { value: unknown } {
    return typeof v === "object" && v !== null && (v as Record<string, unknown>)[SIG_KEY] === SECRET_SIG;
}

export function secret<T>(value: T): unknown {
    return { [SIG_KEY]: SECRET_SIG, value };
}

/** Deeply unwraps secrets; `secret` tells whether anything inside was secret. */
export function reveal(v: unknown): { value: unknown; secret: boolean } {
    if (isSecret(v)) return { value: reveal(v.value).value, secret: true };
    if (Array.isArray(v)) {
        let s = false;
        const value = v.map((e) => {
            const r = reveal(e);
            s ||= r.secret;
            return r.value;
        });
        return { value, secret: s };
    }
    if (typeof v === "object" && v !== null) {
        let s = false;
        const value: Record<string, unknown> = {};
        for (const [k, e] of Object.entries(v)) {
            const r = reveal(e);
            s ||= r.secret;
            value[k] = r.value;
        }
        return { value, secret: s };
    }
    return { value: v, secret: false };
}

/** Reveals every top-level property, remembering which ones held a secret. */
export function revealProps(props: Record<string, unknown> | undefined): {
    values: Record<string, unknown>;
    secretKeys: Set<string>;
} {
    const values: Record<string, unknown> = {};
    const secretKeys = new Set<string>();
    for (const [k, v] of Object.entries(props ?? {})) {
        const r = reveal(v);
        values[k] = r.value;
        if (r.secret) secretKeys.add(k);
    }
    return { values, secretKeys };
}

export function containsUnknown(v: unknown): boolean {
    if (v === UNKNOWN) return true;
    if (Array.isArray(v)) return v.some(containsUnknown);
    if (typeof v === "object" && v !== null) return Object.values(v).some(containsUnknown);
    return false;
}

/** Structural equality on JSON-like values (object key order ignored). */
export function deepEqual(a: unknown, b: unknown): boolean {
    if (a === b) return true;
    if (Array.isArray(a) || Array.isArray(b)) {
        if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
        return a.every((e, i) => deepEqual(e, b[i]));
    }
    if (typeof a === "object" && a !== null && typeof b === "object" && b !== null) {
        const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
        const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
        if (ka.length !== kb.length) return false;
        return ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
    }
    return false;
}

/** Resource type and name from a URN `urn:pulumi:stack::project::[parent$]type::name`. */
export function parseUrn(urn: string): { type: string; name: string } {
    const parts = urn.split("::");
    const qualified = parts[2] ?? "";
    return { type: qualified.split("$").pop() ?? "", name: parts.slice(3).join("::") };
}
