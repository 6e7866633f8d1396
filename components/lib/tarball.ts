// Deterministic release archives: a minimal ustar writer and a gzip wrapper, both byte-stable.
import { createHash } from "crypto";

export interface ArchiveEntry {
  /** Relative POSIX path, no leading "./" or "/". */
  path: string;
  /** File content; omit for a directory. */
  content?: Buffer;
  executable?: boolean;
}

const BLOCK = 512;

function octal(value: number, width: number): string {
  // width includes the trailing NUL.
  const s = value.toString(8);
  if (s.length > width - 1) throw new Error(`value ${value} does not fit a ${width}-byte tar field`);
  return s.padStart(width - 1, "0") + "\0";
}

/** Splits a path into ustar prefix (<=155) and name (<=100) fields. */
function splitPath(p: string): { prefix: string; name: string } {
  if (Buffer.byteLength(p) <= 100) return { prefix: "", name: p };
  for (let i = p.length - 1; i > 0; i--) {
    if (p[i] !== "/") continue;
    const prefix = p.slice(0, i);
    const name = p.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name.length > 0) return { prefix, name };
  }
  throw new Error(`path too long for a ustar archive: ${p}`);
}

function header(entry: ArchiveEntry): Buffer {
  const isDir = entry.content === undefined;
  const h = Buffer.alloc(BLOCK, 0);
  const { prefix, name } = splitPath(isDir ? `${entry.path}/` : entry.path);
  const write = (s: string, offset: number, length: number) => {
    const b = Buffer.from(s, "utf8");
    if (b.length > length) throw new Error(`tar field overflow for ${entry.path}`);
    b.copy(h, offset);
  };
  write(name, 0, 100);
  write(octal(isDir || entry.executable ? 0o755 : 0o644, 8), 100, 8);
  write(octal(0, 8), 108, 8); // uid
  write(octal(0, 8), 116, 8); // gid
  write(octal(isDir ? 0 : entry.content!.length, 12), 124, 12);
  write(octal(0, 12), 136, 12); // mtime: fixed, so archives depend on content only
  write("        ", 148, 8); // checksum placeholder: spaces while summing
  write(isDir ? "5" : "0", 156, 1);
  write("ustar\0", 257, 6);
  write("00", 263, 2);
  write("root", 265, 32);
  write("root", 297, 32);
  write(prefix, 345, 155);
  let sum = 0;
  for (const byte of h) sum += byte;
  write(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8);
  return h;
}

function validatePath(p: string): void {
  if (p === "" || p.startsWith("/") || p.split("/").some((seg) => seg === "" || seg === "." || seg === "..")) {
    throw new Error(`unsafe archive path: ${JSON.stringify(p)}`);
  }
}

/** A ustar archive of `entries`, sorted by path, with fixed owner, mode and mtime. */
export function ustar(entries: readonly ArchiveEntry[]): Buffer {
  const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const parts: Buffer[] = [];
  let previous: string | undefined;
  for (const entry of sorted) {
    validatePath(entry.path);
    if (entry.path === previous) throw new Error(`duplicate archive path: ${entry.path}`);
    previous = entry.path;
    parts.push(header(entry));
    if (entry.content !== undefined) {
      parts.push(entry.content);
      const pad = (BLOCK - (entry.content.length % BLOCK)) % BLOCK;
      parts.push(Buffer.alloc(pad, 0));
    }
  }
  parts.push(Buffer.alloc(BLOCK * 2, 0));
  return Buffer.concat(parts);
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(data: Buffer): number {
  let c = 0xffffffff;
  for (const byte of data) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * Wraps `data` in gzip using deflate "stored" blocks. zlib's compressed output can change between
 * Node releases, which would change the content hash and trigger a needless rebuild; stored blocks
 * depend on the input bytes alone. Releases are a few hundred KB at most, so size does not matter.
 */
export function gzipStored(data: Buffer): Buffer {
  const out: Buffer[] = [Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0x03])];
  const MAX = 0xffff;
  let offset = 0;
  do {
    const chunk = data.subarray(offset, offset + MAX);
    offset += chunk.length;
    const final = offset >= data.length ? 1 : 0;
    const h = Buffer.alloc(5);
    h[0] = final;
    h.writeUInt16LE(chunk.length, 1);
    h.writeUInt16LE(~chunk.length & 0xffff, 3);
    out.push(h, chunk);
  } while (offset < data.length);
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc32(data), 0);
  trailer.writeUInt32LE(data.length >>> 0, 4);
  out.push(trailer);
  return Buffer.concat(out);
}

export function sha256Hex(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}
