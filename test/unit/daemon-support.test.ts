import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkDaemonSupport, explainHelperRefusal } from "../../src/docker/daemon-support.js";
import type { Endpoint } from "../../src/docker/endpoint.js";
import { helperHostConfig } from "../../src/docker/helper-runner.js";
import { helperSeccompProfile, helperSyscalls } from "../../src/docker/seccomp.js";
import type { DaemonFacts } from "../../src/model/inventory.js";

const endpoint: Endpoint = {
  host: "unix:///var/run/docker.sock",
  context: "default",
  source: "test",
  configDir: "/x",
};

function daemon(over: Partial<DaemonFacts> = {}): DaemonFacts {
  return {
    id: "X",
    serverVersion: "28.0.0",
    osType: "linux",
    architecture: "x86_64",
    kernelVersion: "6.1.0",
    rootDir: "/var/lib/docker",
    driver: "overlay2",
    cgroupVersion: "2",
    cgroupDriver: "systemd",
    securityOptions: ["name=seccomp,profile=builtin", "name=cgroupns"],
    ...over,
  };
}

describe("daemon support", () => {
  it("refuses a Windows daemon before anything runs", () => {
    assert.throws(
      () => checkDaemonSupport(daemon({ osType: "windows" }), endpoint),
      /works with Linux daemons only/,
    );
  });
  it("warns about what a rootless daemon cannot see", () => {
    const w = checkDaemonSupport(
      daemon({ securityOptions: ["name=seccomp,profile=builtin", "name=rootless"] }),
      endpoint,
    );
    assert.equal(w.length, 1);
    assert.match(w[0]!, /rootless: only processes inside its user namespace can be inspected/);
  });
  it("says nothing for an ordinary daemon", () => {
    assert.deepEqual(checkDaemonSupport(daemon(), endpoint), []);
  });
  it("explains a daemon that refuses the host PID namespace", () => {
    const err = explainHelperRefusal(
      "host PID namespace is not allowed by Enhanced Container Isolation",
      endpoint,
    );
    assert.match(err?.message ?? "", /refuses to run the helper with the host's PID namespace/);
    assert.equal(explainHelperRefusal("No such image: x", endpoint), null);
  });
});

describe("helper HostConfig (never privileged, least capabilities)", () => {
  it("scan: host PID and cgroup namespaces, no network, read-only, SYS_PTRACE only", () => {
    // A daemon without seccomp: the helper gets an empty network namespace instead.
    const hc = helperHostConfig("scan", daemon({ securityOptions: ["name=cgroupns"] }));
    assert.equal(hc.Privileged, undefined);
    assert.equal(hc.PidMode, "host");
    assert.equal(hc.CgroupnsMode, "host");
    assert.equal(hc.NetworkMode, "none");
    assert.equal(hc.ReadonlyRootfs, true);
    assert.deepEqual(hc.CapDrop, ["ALL"]);
    assert.deepEqual(hc.CapAdd, ["SYS_PTRACE"]);
    assert.deepEqual(hc.SecurityOpt, ["no-new-privileges"]);
    assert.equal(hc.UsernsMode, undefined);
  });
  it("a deep scan alone also gets DAC_READ_SEARCH", () => {
    assert.deepEqual(helperHostConfig("scan", daemon(), { deep: true }).CapAdd, [
      "SYS_PTRACE",
      "DAC_READ_SEARCH",
    ]);
    assert.deepEqual(helperHostConfig("scan", daemon(), { deep: false }).CapAdd, ["SYS_PTRACE"]);
    // Only scans are deep: the option gives the other modes nothing.
    assert.deepEqual(helperHostConfig("version", daemon(), { deep: true }).CapAdd, []);
    assert.deepEqual(helperHostConfig("umount", daemon(), { deep: true }).CapAdd, [
      "SYS_ADMIN",
      "SYS_PTRACE",
      "SYS_CHROOT",
    ]);
  });
  it("umount: SYS_ADMIN, SYS_PTRACE, SYS_CHROOT only", () => {
    assert.deepEqual(helperHostConfig("umount", daemon()).CapAdd, ["SYS_ADMIN", "SYS_PTRACE", "SYS_CHROOT"]);
  });
  it("every mode: at most 32 processes and 512 MiB of memory, no swap beyond it", () => {
    for (const mode of ["scan", "umount", "version"] as const) {
      const hc = helperHostConfig(mode, daemon());
      assert.equal(hc.PidsLimit, 32, mode);
      assert.equal(hc.Memory, 512 * 1024 * 1024, mode);
      assert.equal(hc.MemorySwap, 512 * 1024 * 1024, mode);
      assert.equal(hc.AutoRemove, true, mode);
    }
  });
  it("SELinux daemons run the helper label=disable, others do not", () => {
    const selinux = helperHostConfig("scan", daemon({ securityOptions: ["name=selinux", "name=seccomp"] }));
    assert.ok((selinux.SecurityOpt as string[]).includes("label=disable"));
    for (const options of [[], ["name=apparmor"], ["name=seccomp,profile=default"]]) {
      const hc = helperHostConfig("umount", daemon({ securityOptions: options }));
      assert.ok(!(hc.SecurityOpt as string[]).includes("label=disable"), options.join());
    }
  });
  it("AppArmor daemons get apparmor=unconfined for the helper only", () => {
    const hc = helperHostConfig("scan", daemon({ securityOptions: ["name=apparmor"] }));
    assert.deepEqual(hc.SecurityOpt, ["no-new-privileges", "apparmor=unconfined"]);
  });
  it("seccomp daemons: the helper's own syscall allowlist, and then the host network namespace", () => {
    for (const mode of ["scan", "umount", "version"] as const) {
      const hc = helperHostConfig(
        mode,
        daemon({ securityOptions: ["name=apparmor", "name=seccomp,profile=default"] }),
      );
      const opts = hc.SecurityOpt as string[];
      assert.deepEqual(opts.slice(0, 2), ["no-new-privileges", "apparmor=unconfined"]);
      assert.equal(opts.length, 3);
      assert.ok(opts[2]?.startsWith("seccomp="));
      assert.deepEqual(JSON.parse(opts[2]!.slice("seccomp=".length)), helperSeccompProfile(mode));
      assert.equal(hc.NetworkMode, "host", "no socket can be made, so no namespace of its own is needed");
    }
  });
  it("the allowlist: nothing that reaches the network, other processes' memory or the kernel's keys", () => {
    const refused = [
      "socket",
      "socketpair",
      "connect",
      "bind",
      "sendto",
      "sendmsg",
      "ptrace",
      "process_vm_readv",
      "process_vm_writev",
      "bpf",
      "keyctl",
      "add_key",
      "mount",
      "unshare",
      "init_module",
      "kexec_load",
      "perf_event_open",
      "ioctl",
      "pivot_root",
      "setuid",
      "capset",
    ];
    for (const mode of ["scan", "umount", "version"] as const) {
      const profile = helperSeccompProfile(mode);
      assert.equal(profile.defaultAction, "SCMP_ACT_ERRNO");
      const allowed = new Set(helperSyscalls(mode));
      for (const name of refused) assert.ok(!allowed.has(name), `${mode} allows ${name}`);
    }
    // Only umount mode may join namespaces, chroot and unmount; scan and umount fork watched
    // workers and children (a stalled filesystem must not hang the helper); version does not.
    for (const name of ["setns", "chroot", "fchdir", "umount2"]) {
      assert.ok(helperSyscalls("umount").includes(name), name);
      assert.ok(!helperSyscalls("scan").includes(name), name);
    }
    for (const name of ["clone", "fork", "kill", "poll"]) {
      assert.ok(helperSyscalls("scan").includes(name), name);
      assert.ok(helperSyscalls("umount").includes(name), name);
    }
  });
  it("userns-remap daemons run the helper with UsernsMode host", () => {
    assert.equal(helperHostConfig("umount", daemon({ securityOptions: ["name=userns"] })).UsernsMode, "host");
  });
});
