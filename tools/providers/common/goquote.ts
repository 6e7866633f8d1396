// Go's %q (strconv.Quote): the real providers format the failing command with it, so error texts match.
export function goQuote(s: string): string {
    let out = '"';
    for (const ch of s) {
        const c = ch.codePointAt(0)!;
        switch (ch) {
            case '"': out += '\\"'; continue;
            case "\\": out += "\\\\"; continue;
            case "\x07": out += "\\a"; continue;
            case "\b": out += "\\b"; continue;
            case "\f": out += "\\f"; continue;
            case "\n": out += "\\n"; continue;
            case "\r": out += "\\r"; continue;
            case "\t": out += "\\t"; continue;
            case "\v": out += "\\v"; continue;
        }
        if (c < 0x20 || c === 0x7f) out += "\\x" + c.toString(16).padStart(2, "0");
        else if (c >= 0x80 && c <= 0x9f) out += "\\u" + c.toString(16).padStart(4, "0");
        else if (c === 0xfeff || c === 0x2028 || c === 0x2029) out += "\\u" + c.toString(16).padStart(4, "0");
        else out += ch;
    }
    return out + '"';
}
