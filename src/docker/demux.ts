/**
 * The daemon's multiplexed attach stream (no TTY) split into stdout and stderr, as moby's
 * stdcopy does: frames of an 8-byte header — stream type (0 stdin, 1 stdout, 2 stderr,
 * 3 the daemon's own error), three zero bytes, the payload length (big-endian uint32) — and the
 * payload. Payloads are handed on as views of the received chunks, never copied; only a header
 * split between chunks is gathered. (docker-modem's demuxStream copies everything after each
 * frame, which is quadratic in the frames per chunk: ~30 ms of a scan's output.)
 *
 * From a header that is not a frame's on (a TTY's raw stream), everything goes to stdout as it is.
 */
export class StreamDemuxer {
  private readonly header = Buffer.alloc(8);
  private headerBytes = 0;
  /** Payload bytes still to come in the current frame, and where they go */
  private left = 0;
  private toStderr = false;
  private raw = false;

  constructor(
    private readonly stdout: (chunk: Buffer) => void,
    private readonly stderr: (chunk: Buffer) => void,
  ) {}

  push(chunk: Buffer): void {
    if (this.raw) {
      this.stdout(chunk);
      return;
    }
    let at = 0;
    while (at < chunk.length) {
      if (this.left > 0) {
        const n = Math.min(this.left, chunk.length - at);
        (this.toStderr ? this.stderr : this.stdout)(chunk.subarray(at, at + n));
        this.left -= n;
        at += n;
        continue;
      }
      const n = Math.min(8 - this.headerBytes, chunk.length - at);
      chunk.copy(this.header, this.headerBytes, at, at + n);
      this.headerBytes += n;
      at += n;
      if (this.headerBytes < 8) return;
      this.headerBytes = 0;
      const type = this.header[0];
      if (
        type !== undefined &&
        type <= 3 &&
        this.header[1] === 0 &&
        this.header[2] === 0 &&
        this.header[3] === 0
      ) {
        this.toStderr = type >= 2;
        this.left = this.header.readUInt32BE(4);
      } else {
        this.raw = true;
        this.stdout(Buffer.from(this.header));
        if (at < chunk.length) this.stdout(chunk.subarray(at));
        return;
      }
    }
  }
}
