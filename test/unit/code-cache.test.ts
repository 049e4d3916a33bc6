import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { requireWithCodeCache } from "../../src/cli/code-cache.js";

const MODULE = fileURLToPath(new URL("../../src/cli/code-cache.ts", import.meta.url));

interface Run {
  state: string;
  answer: number;
  sibling: number;
  dir: string;
}

/**
 * Loads in a process of its own, as the launcher does: within one process V8 keeps what it
 * compiled and would never consult the cache file again.
 */
function load(file: string, cache: string | undefined, save = true): Run {
  const script = `
    const { requireWithCodeCache } = await import(${JSON.stringify(MODULE)});
    const loaded = requireWithCodeCache(${JSON.stringify(file)}, ${JSON.stringify(cache)});
    if (${save}) loaded.save();
    const { answer, sibling, dir } = loaded.exports;
    process.stdout.write(JSON.stringify({ state: loaded.state, answer: answer(), sibling, dir }));`;
  const out = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    encoding: "utf8",
  });
  return JSON.parse(out) as Run;
}

let tmp: string;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), "dlt-unit-codecache-"));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
/** A bundle-like CommonJS file (requiring a sibling, as the bundle requires node's modules). */
function bundle(body: string): { file: string; cache: string } {
  const dir = join(tmp, `case-${++n}`);
  mkdirSync(dir);
  writeFileSync(join(dir, "sibling.js"), "module.exports = 40;\n");
  const file = join(dir, "main.cjs");
  writeFileSync(
    file,
    `"use strict";\nconst sibling = require("./sibling.js");\n${body}\nmodule.exports.dir = __dirname;\nmodule.exports.sibling = sibling;\n`,
  );
  return { file, cache: join(dir, "cache", "code") };
}

const cacheFiles = (dir: string) =>
  existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".v8")) : [];

describe("requireWithCodeCache", () => {
  it("runs the file as require would, writes the cache once, and uses it from then on", () => {
    const { file, cache } = bundle("module.exports.answer = () => 42;");
    const first = load(file, cache, false);
    assert.deepEqual(first, { state: "miss", answer: 42, sibling: 40, dir: join(tmp, `case-${n}`) });
    assert.deepEqual(cacheFiles(cache), []);
    assert.equal(load(file, cache).state, "miss");
    const files = cacheFiles(cache);
    assert.equal(files.length, 1);
    assert.match(files[0] ?? "", /^main-[0-9a-f]{32}\.v8$/);
    assert.equal(statSync(join(cache, files[0] ?? "")).mode & 0o777, 0o600);
    assert.equal(statSync(cache).mode & 0o777, 0o700);

    const second = load(file, cache);
    assert.equal(second.state, "hit");
    assert.equal(second.answer, 42);
    assert.deepEqual(cacheFiles(cache), files);
  });

  it("remakes a cache that V8 rejects, and still runs the file", () => {
    const { file, cache } = bundle("module.exports.answer = () => 42;");
    load(file, cache);
    const [name] = cacheFiles(cache);
    writeFileSync(join(cache, name ?? ""), Buffer.alloc(4096, 7));
    const broken = load(file, cache);
    assert.equal(broken.state, "rejected");
    assert.equal(broken.answer, 42);
    assert.equal(load(file, cache).state, "hit");
  });

  it("never pairs a changed file with an old cache, even of the same length, and drops the old one", () => {
    const { file, cache } = bundle("module.exports.answer = () => 42;");
    load(file, cache);
    const [old] = cacheFiles(cache);
    // Same length, other code: V8 itself checks only the length.
    writeFileSync(
      file,
      `"use strict";\nconst sibling = require("./sibling.js");\nmodule.exports.answer = () => 24;\nmodule.exports.dir = __dirname;\nmodule.exports.sibling = sibling;\n`,
    );
    const changed = load(file, cache);
    assert.equal(changed.state, "miss");
    assert.equal(changed.answer, 24);
    const now = cacheFiles(cache);
    assert.equal(now.length, 1);
    assert.notEqual(now[0], old);
  });

  it("a file rewritten in place, same length and its modification time set back, still misses", () => {
    // The name comes from the file's identity, not its text: the kernel's change time is what
    // tells this rewrite apart (nobody can set it back).
    const { file, cache } = bundle("module.exports.answer = () => 42;");
    const when = 1_700_000_000; // whole seconds: set back exactly, to the nanosecond
    utimesSync(file, when, when);
    load(file, cache);
    assert.equal(load(file, cache, false).state, "hit");
    const before = statSync(file, { bigint: true });
    const text = readFileSync(file, "utf8").replace("() => 42", "() => 24");
    writeFileSync(file, text); // same inode, same length
    utimesSync(file, when, when);
    const after = statSync(file, { bigint: true });
    assert.deepEqual([after.ino, after.size, after.mtimeNs], [before.ino, before.size, before.mtimeNs]);
    const changed = load(file, cache);
    assert.deepEqual([changed.state, changed.answer], ["miss", 24]);
    assert.equal(load(file, cache, false).state, "hit");
  });

  it("uses no cache in a directory others can write to, or through a symlink", () => {
    const { file, cache } = bundle("module.exports.answer = () => 42;");
    mkdirSync(cache, { recursive: true });
    chmodSync(cache, 0o777);
    assert.deepEqual(
      [load(file, cache).state, load(file, cache).state, load(file, cache).answer],
      ["off", "off", 42],
    );
    assert.deepEqual(cacheFiles(cache), []);

    const real = join(tmp, `real-${n}`);
    mkdirSync(real, { mode: 0o700 });
    const link = join(tmp, `link-${n}`);
    symlinkSync(real, link);
    assert.equal(load(file, link).state, "off");
    assert.deepEqual(cacheFiles(real), []);
  });

  it("does not follow a symlink in place of the cache file, nor read one others can write", () => {
    const { file, cache } = bundle("module.exports.answer = () => 42;");
    load(file, cache);
    const [name] = cacheFiles(cache);
    const path = join(cache, name ?? "");
    const elsewhere = join(tmp, `planted-${n}.v8`);
    writeFileSync(elsewhere, Buffer.alloc(64, 1));
    rmSync(path);
    symlinkSync(elsewhere, path);
    assert.equal(load(file, cache, false).state, "miss");
    rmSync(path);
    load(file, cache);
    assert.equal(load(file, cache, false).state, "hit");
    chmodSync(path, 0o666);
    assert.equal(load(file, cache, false).state, "miss");
  });

  it("runs without a cache when there is no directory for it", () => {
    const { file } = bundle("module.exports.answer = () => 42;");
    assert.deepEqual([load(file, undefined).state, load(file, undefined).answer], ["off", 42]);
  });

  it("lets an error of the file itself through", () => {
    const { file, cache } = bundle('throw new Error("bundle failed");');
    assert.throws(() => requireWithCodeCache(file, cache), /bundle failed/);
  });
});
