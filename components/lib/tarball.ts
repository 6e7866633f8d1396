// Deterministic release archives: a pax/ustar writer and a deflate encoder, both byte-stable.
import { createHash } from "crypto";

export interface ArchiveEntry {
  /** Relative POSIX path, no leading "./" or "/". */
  path: string;
  /** File content; omit for a directory (or a symlink). */
  content?: Buffer;
  executable?: boolean;
  /** Symlink target (relative, inside the tree; release.ts checks that). */
  linkTarget?: string;
}

const BLOCK = 512;

function octal(value: number, width: number): string {
  // width includes the trailing NUL.
  const s = value.toString(8);
  if (s.length > width - 1) throw new Error(`value ${value} does not fit a ${width}-byte tar field`);
  return s.padStart(width - 1, "0") + "\0";
}

/** Splits a path into ustar prefix (<=155) and name (<=100) fields; undefined when it cannot. */
function splitPath(p: string): { prefix: string; name: string } | undefined {
  if (Buffer.byteLength(p) <= 100) return { prefix: "", name: p };
  for (let i = p.length - 1; i > 0; i--) {
    if (p[i] !== "/") continue;
    const prefix = p.slice(0, i);
    const name = p.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name.length > 0) return { prefix, name };
  }
  return undefined;
}

interface Header {
  name: string;
  prefix: string;
  mode: number;
  size: number;
  type: string;
  linkname: string;
}

function header(f: Header): Buffer {
  const h = Buffer.alloc(BLOCK, 0);
  const write = (s: string, offset: number, length: number) => {
    const b = Buffer.from(s, "utf8");
    if (b.length > length) throw new Error(`tar field overflow for ${f.prefix}/${f.name}`);
    b.copy(h, offset);
  };
  write(f.name, 0, 100);
  write(octal(f.mode, 8), 100, 8);
  write(octal(0, 8), 108, 8); // uid
  write(octal(0, 8), 116, 8); // gid
  write(octal(f.size, 12), 124, 12);
  write(octal(0, 12), 136, 12); // mtime: fixed, so archives depend on content only
  write("        ", 148, 8); // checksum placeholder: spaces while summing
  write(f.type, 156, 1);
  write(f.linkname, 157, 100);
  write("ustar\0", 257, 6);
  write("00", 263, 2);
  write("root", 265, 32);
  write("root", 297, 32);
  write(f.prefix, 345, 155);
  let sum = 0;
  for (const byte of h) sum += byte;
  write(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8);
  return h;
}

/** One pax record "<len> key=value\n", where len counts the whole record including itself. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bodyLen = Buffer.byteLength(body);
  let len = bodyLen + 1;
  while (String(len).length + bodyLen !== len) len = String(len).length + bodyLen;
  return `${len}${body}`;
}

function padded(data: Buffer): Buffer[] {
  const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
  return [data, Buffer.alloc(pad, 0)];
}

function validatePath(p: string): void {
  if (p === "" || p.startsWith("/") || p.includes("\0") || p.split("/").some((seg) => seg === "" || seg === "." || seg === "..")) {
    throw new Error(`unsafe archive path: ${JSON.stringify(p)}`);
  }
}

/**
 * A POSIX (pax) archive of `entries`, sorted by path, with fixed owner, mode and mtime. Names that do
 * not fit ustar's 100+155 bytes, and symlink targets over 100 bytes, go into a pax extended header
 * ("x"), which GNU tar, busybox tar and bsdtar all read.
 */
export function tarArchive(entries: readonly ArchiveEntry[]): Buffer {
  const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const parts: Buffer[] = [];
  let previous: string | undefined;
  for (const entry of sorted) {
    validatePath(entry.path);
    if (entry.path === previous) throw new Error(`duplicate archive path: ${entry.path}`);
    previous = entry.path;
    const isLink = entry.linkTarget !== undefined;
    const isDir = !isLink && entry.content === undefined;
    const fullName = isDir ? `${entry.path}/` : entry.path;
    const split = splitPath(fullName);
    const link = entry.linkTarget ?? "";
    const pax: string[] = [];
    if (!split) pax.push(paxRecord("path", fullName));
    if (Buffer.byteLength(link) > 100) pax.push(paxRecord("linkpath", link));
    if (pax.length > 0) {
      const data = Buffer.from(pax.join(""), "utf8");
      // The extended header's own name is informational; keep it short and stable.
      parts.push(header({ name: "PaxHeader", prefix: "", mode: 0o644, size: data.length, type: "x", linkname: "" }), ...padded(data));
    }
    const fallback = split ?? { prefix: "", name: fullName.slice(-100).replace(/^\/+/, "") };
    const size = isDir || isLink ? 0 : entry.content!.length;
    const mode = isLink ? 0o777 : isDir || entry.executable ? 0o755 : 0o644;
    const type = isLink ? "2" : isDir ? "5" : "0";
    parts.push(header({ ...fallback, mode, size, type, linkname: Buffer.byteLength(link) > 100 ? "" : link }));
    if (!isDir && !isLink) parts.push(...padded(entry.content!));
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

// RFC 1951 3.2.5: length and distance codes, their base values and extra bits.
const LEN_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LEN_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577];
const DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
const LEN_CODE = new Uint8Array(259); // length -> index into LEN_BASE
const DIST_CODE = new Uint8Array(32769); // distance -> index into DIST_BASE
for (let i = 0; i < LEN_BASE.length; i++) for (let l = LEN_BASE[i]; l < LEN_BASE[i] + (1 << LEN_EXTRA[i]) && l <= 258; l++) LEN_CODE[l] = i;
LEN_CODE[258] = 28;
for (let i = 0; i < DIST_BASE.length; i++) for (let d = DIST_BASE[i]; d < DIST_BASE[i] + (1 << DIST_EXTRA[i]) && d <= 32768; d++) DIST_CODE[d] = i;

class BitWriter {
  private buf = Buffer.alloc(1 << 16);
  private pos = 0;
  private acc = 0;
  private n = 0;
  /** LSB-first, as deflate packs everything but Huffman codes. */
  bits(value: number, count: number): void {
    this.acc |= value << this.n;
    this.n += count;
    while (this.n >= 8) {
      if (this.pos === this.buf.length) this.buf = Buffer.concat([this.buf, Buffer.alloc(this.buf.length)]);
      this.buf[this.pos++] = this.acc & 0xff;
      this.acc >>>= 8;
      this.n -= 8;
    }
  }
  /** A Huffman code, sent most significant bit first. */
  code(value: number, count: number): void {
    let r = 0;
    for (let i = 0; i < count; i++) r |= ((value >>> i) & 1) << (count - 1 - i);
    this.bits(r, count);
  }
  finish(): Buffer {
    if (this.n > 0) this.bits(0, 8 - this.n);
    return this.buf.subarray(0, this.pos);
  }
}

/** RFC 1951 3.2.6: the fixed literal/length code. */
function literal(w: BitWriter, sym: number): void {
  if (sym < 144) w.code(0x30 + sym, 8);
  else if (sym < 256) w.code(0x190 + sym - 144, 9);
  else if (sym < 280) w.code(sym - 256, 7);
  else w.code(0xc0 + sym - 280, 8);
}

/**
 * Raw deflate, one block with the fixed Huffman code and greedy LZ77 matches (32 KiB window, hash
 * chains of bounded depth). Our own encoder rather than zlib: zlib's output differs between builds
 * (Node bundles Chromium's zlib, whose match finder depends on the CPU's instructions), and the
 * release hash must depend on the tree alone, or an unchanged tree would redeploy from another machine.
 */
export function deflateFixed(data: Buffer): Buffer {
  const w = new BitWriter();
  w.bits(1, 1); // BFINAL
  w.bits(1, 2); // BTYPE = 01, fixed Huffman
  const HASH = 1 << 15;
  const WINDOW = 32768;
  const MAX_CHAIN = 32;
  const head = new Int32Array(HASH).fill(-1);
  const prev = new Int32Array(WINDOW);
  const hashAt = (i: number) => ((data[i] << 10) ^ (data[i + 1] << 5) ^ data[i + 2]) & (HASH - 1);
  const insert = (i: number) => {
    const h = hashAt(i);
    prev[i & (WINDOW - 1)] = head[h];
    head[h] = i;
  };
  let i = 0;
  while (i < data.length) {
    let bestLen = 0;
    let bestDist = 0;
    if (i + 2 < data.length) {
      let cand = head[hashAt(i)];
      const limit = Math.min(258, data.length - i);
      for (let chain = 0; cand >= 0 && i - cand <= WINDOW && chain < MAX_CHAIN; chain++) {
        if (data[cand + bestLen] === data[i + bestLen]) {
          let l = 0;
          while (l < limit && data[cand + l] === data[i + l]) l++;
          if (l > bestLen) {
            bestLen = l;
            bestDist = i - cand;
            if (l === limit) break;
          }
        }
        const next = prev[cand & (WINDOW - 1)];
        if (next >= cand) break; // slot reused by a newer position
        cand = next;
      }
    }
    if (bestLen >= 3) {
      const lc = LEN_CODE[bestLen];
      literal(w, 257 + lc);
      w.bits(bestLen - LEN_BASE[lc], LEN_EXTRA[lc]);
      const dc = DIST_CODE[bestDist];
      w.code(dc, 5);
      w.bits(bestDist - DIST_BASE[dc], DIST_EXTRA[dc]);
      const end = i + bestLen;
      for (; i < end; i++) if (i + 2 < data.length) insert(i);
    } else {
      literal(w, data[i]);
      if (i + 2 < data.length) insert(i);
      i++;
    }
  }
  literal(w, 256);
  return w.finish();
}

/** gzip (RFC 1952) around deflateFixed: no name, no mtime, OS "unix", so the bytes depend on `data` only. */
export function gzipDeterministic(data: Buffer): Buffer {
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc32(data), 0);
  trailer.writeUInt32LE(data.length >>> 0, 4);
  return Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0x03]), deflateFixed(data), trailer]);
}

export function sha256Hex(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}
