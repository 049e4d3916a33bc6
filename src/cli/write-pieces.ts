/**
 * Writes many small strings (a JSON document's pieces, one per finding) as few large writes. One
 * write per piece costs a system call and a stream callback each; joining the pieces first copies
 * them all into one string, which the encoder then flattens again. Here each piece is encoded
 * straight into a buffer of `size` bytes, written when the next piece does not fit; a piece larger
 * than a buffer is written on its own. A buffer is never reused once written (a stream may hold it).
 */
export const WRITE_CHUNK = 64 * 1024;

export interface PieceSink {
  write(chunk: Uint8Array | string): unknown;
}

export function writePieces(out: PieceSink, pieces: Iterable<string>, size: number = WRITE_CHUNK): void {
  let buf = Buffer.allocUnsafe(size);
  let used = 0;
  const flush = () => {
    if (used === 0) return;
    out.write(buf.subarray(0, used));
    buf = Buffer.allocUnsafe(size);
    used = 0;
  };
  for (const piece of pieces) {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit: most pieces fit without being measured.
    if (piece.length * 3 > size - used) {
      const bytes = Buffer.byteLength(piece);
      if (bytes > size - used) flush();
      if (bytes > size) {
        out.write(piece);
        continue;
      }
    }
    used += buf.write(piece, used);
  }
  flush();
}
