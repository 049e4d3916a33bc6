/**
 * Docker's name rules and the shell words of suggested commands: shellQuote must give back
 * exactly the word through a real POSIX sh, as one argument, and show no control character.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  isValidContainerName,
  isValidVolumeName,
  leakCommand,
  shellQuote,
  UNSAFE_TEXT_CLASS,
} from "../../src/model/names.js";
import { escapeForTerminal } from "../../src/render/escape.js";

const UNSAFE = new RegExp(`[${UNSAFE_TEXT_CLASS}]`);
const ID = "4f3c2b1a0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b";

/** Shells to check against: dash (Debian's sh) and whatever else is installed. */
const SHELLS = [["sh"], ["bash", "--norc", "--noprofile", "--posix"], ["busybox", "sh"]].filter(
  ([cmd, ...args]) => spawnSync(cmd!, [...args, "-c", "exit 0"]).status === 0,
);

/**
 * Runs `sh -c 'printf %s "$@"' _ QUOTED…` through each shell, typed as a command line (so the
 * outer shell parses QUOTED), and returns per word the argument count and the bytes printed.
 */
function throughShell(shell: string[], quoted: readonly string[]): { argc: string; bytes: Buffer }[] {
  const script = quoted
    .map((q) => `set -- ${q}; printf '%s\\n' "$#"; printf %s "$@" | od -An -v -tx1 | tr -d ' \\n'; echo`)
    .join("\n");
  const r = spawnSync(shell[0]!, [...shell.slice(1), "-c", script], {
    env: { PATH: process.env.PATH, LC_ALL: "C" },
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.split("\n");
  return quoted.map((_, i) => ({
    argc: lines[2 * i]!,
    bytes: Buffer.from(lines[2 * i + 1]!, "hex"),
  }));
}

/** Strings as names can hold them: any code point but NUL (no argument can hold one) and lone surrogates. */
const nameLike = fc
  .oneof(
    fc.string({ unit: "binary", maxLength: 24 }),
    fc
      .array(
        fc.constantFrom(
          "'",
          '"',
          "\\",
          "$",
          "`",
          "\n",
          "\x1b",
          "\t",
          " ",
          "*",
          "%",
          "-",
          "\u202e",
          "\x9b",
          "é",
          "a",
        ),
        { maxLength: 12 },
      )
      .map((a) => a.join("")),
  )
  .filter((s) => !s.includes("\0") && !/\p{Cs}/u.test(s));

describe("Docker's name rules", () => {
  it("containers: [a-zA-Z0-9][a-zA-Z0-9_.-]+, inspect's leading / allowed", () => {
    for (const ok of ["web", "/web", "a1", "my_app.v2-1", "0x", ID]) assert.ok(isValidContainerName(ok), ok);
    for (const bad of ["", "a", "/", "_web", ".x", "-x", "a b", "a/b", "web\n", "wéb", "a\x1b", "//web"]) {
      assert.ok(!isValidContainerName(bad), JSON.stringify(bad));
    }
  });

  it("volumes: moby's RestrictedNamePattern, no leading /", () => {
    for (const ok of ["data", "d1", "my_vol.v2-1", ID]) assert.ok(isValidVolumeName(ok), ok);
    for (const bad of ["", "d", "/data", "_data", "-rf", "a b", "x\n", "a:b", "vol\u202e"]) {
      assert.ok(!isValidVolumeName(bad), JSON.stringify(bad));
    }
  });
});

describe("shellQuote", () => {
  it("leaves safe words bare and single-quotes the rest", () => {
    assert.equal(shellQuote("web-1.2_x"), "web-1.2_x");
    assert.equal(shellQuote("/var/lib/docker:a,b=c@d%e+f"), "/var/lib/docker:a,b=c@d%e+f");
    assert.equal(shellQuote(""), "''");
    assert.equal(shellQuote("a b"), "'a b'");
    assert.equal(shellQuote("it's"), "'it'\\''s'");
    assert.equal(shellQuote("$(reboot)`id`*"), "'$(reboot)`id`*'");
    assert.equal(shellQuote("~x"), "'~x'");
  });

  it("writes controls, bidi characters and backslashes through printf octal escapes", () => {
    assert.equal(shellQuote("x\x1b[31my\nz"), `x"$(printf '\\033[31my\\012z')"`);
    assert.equal(shellQuote("a b\u202e"), `'a b'"$(printf '\\342\\200\\256')"`);
    assert.equal(shellQuote("a\\nb"), `a"$(printf '\\134nb')"`);
    assert.equal(shellQuote("\x1b'%"), `"$(printf '\\033\\047\\045')"`);
    assert.equal(shellQuote("end\n"), "end'\n'", "trailing newlines: raw, the only way in POSIX sh");
  });

  for (const shell of SHELLS) {
    it(`property: \`${shell.join(" ")}\` gives back exactly the word, as one argument`, () => {
      fc.assert(
        fc.property(fc.array(nameLike, { minLength: 1, maxLength: 25 }), (words) => {
          const got = throughShell(
            shell,
            words.map((w) => shellQuote(w)),
          );
          words.forEach((w, i) => {
            assert.equal(got[i]!.argc, "1", `${JSON.stringify(w)} -> ${shellQuote(w)}`);
            assert.deepEqual(
              got[i]!.bytes,
              Buffer.from(w, "utf8"),
              `${JSON.stringify(w)} -> ${shellQuote(w)}`,
            );
          });
        }),
        { numRuns: 40 },
      );
    });
  }

  it("property: no control, separator or bidi character in the output (but trailing newlines)", () => {
    fc.assert(
      fc.property(nameLike, (w) => {
        const q = shellQuote(w);
        const trailing = /\n*$/.exec(w)![0];
        assert.doesNotMatch(q.slice(0, q.length - (trailing ? trailing.length + 1 : 0)), UNSAFE, q);
        // Nothing escapeForTerminal would change: what a terminal shows is what to paste.
        if (!trailing) assert.equal(escapeForTerminal(q), q);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("leakCommand", () => {
  it("names a container by its name when valid, else by its full ID", () => {
    assert.equal(leakCommand("rm", { name: "web", id: ID }), "docker leak rm --force-unmount web");
    assert.equal(leakCommand("rm", { name: "/web", id: ID }), "docker leak rm --force-unmount /web");
    for (const name of ["web; reboot", "x\x1b[2J", "-rf", null]) {
      assert.equal(leakCommand("rm", { name, id: ID }), `docker leak rm --force-unmount ${ID}`);
    }
    assert.equal(leakCommand("rm", { name: "a b" }), "docker leak rm --force-unmount 'a b'");
  });

  it("names a volume by its name, quoted when Docker's rule does not hold, after -- when it starts with -", () => {
    assert.equal(leakCommand("volume rm", { name: "data" }), "docker leak volume rm --force-unmount data");
    assert.equal(
      leakCommand("volume rm", { name: "x important" }),
      "docker leak volume rm --force-unmount 'x important'",
    );
    assert.equal(
      leakCommand("volume rm", { name: "$(reboot)" }),
      "docker leak volume rm --force-unmount '$(reboot)'",
    );
    assert.equal(leakCommand("volume rm", { name: "-rf" }), "docker leak volume rm --force-unmount -- -rf");
    assert.equal(
      leakCommand("volume rm", { name: "v\x1b]0;pwned\x07" }),
      `docker leak volume rm --force-unmount v"$(printf '\\033]0;pwned\\007')"`,
    );
  });

  it("property: the command parses to the expected words and holds no control character", () => {
    const sh = SHELLS[0]!;
    fc.assert(
      fc.property(fc.array(nameLike, { minLength: 1, maxLength: 20 }), (names) => {
        const commands = names.map((name) => leakCommand("volume rm", { name }));
        const script = commands
          .map(
            (c) => `set -- ${c.slice("docker leak volume rm --force-unmount ".length)}; printf '%s\\n' "$#"`,
          )
          .join("\n");
        const r = spawnSync(sh[0]!, ["-c", script], { encoding: "utf8" });
        names.forEach((name, i) => {
          const argc = r.stdout.split("\n")[i];
          assert.equal(argc, name.startsWith("-") ? "2" : "1", commands[i]);
          if (!name.endsWith("\n")) assert.doesNotMatch(commands[i]!, UNSAFE);
        });
      }),
      { numRuns: 30 },
    );
  });
});
