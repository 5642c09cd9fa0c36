import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSocket } from "node:dgram";
import { parseAllDocuments } from "yaml";
import { ConfigMap, Service } from "kubernetes-models/v1";
import { Deployment } from "kubernetes-models/apps/v1";
import "../host/index.js";
import { cliMain } from "./helpers/cli.js";
import { parseTopology } from "../host/topology/parse.js";
import { parseHosts, sshArgv } from "../host/scale/hosts_file.js";
import { hostsUp, childArgv, VNI_BASE } from "../host/scale/hosts.js";
import { k8sManifests } from "../host/scale/k8s.js";
import { ScaleError } from "../host/scale/lab.js";
import type { HostInit } from "../host/scale/hosts_protocol.js";

// wavnet run FILE --hosts hosts.yaml (host/scale/hosts.ts): one process per host entry, the
// cut links as VXLAN links over 127.0.0.1, steps in the partition of their node, results in
// one table; a child that dies ends the run naming its host entry, partition and nodes;
// nothing is left running. ssh is checked as the command line it would run (no ssh server
// here); the Kubernetes manifests are checked against the API schemas of kubernetes-models.

// h1 and h2 in one process, the router between them in the other: every packet between the
// hosts crosses the cut twice (the tcp step keeps its two ends in one partition).
const LAB = `name: across
seed: 1
nodes:
  - name: h1
    partition: 0
    interfaces:
      - { name: eth0, addresses: [10.0.1.10/24] }
    routes:
      - { to: default, via: 10.0.1.1 }
  - name: r
    role: router
    partition: 1
    interfaces:
      - { name: eth0, addresses: [10.0.1.1/24] }
      - { name: eth1, addresses: [10.0.2.1/24] }
  - name: h2
    partition: 0
    interfaces:
      - { name: eth0, addresses: [10.0.2.10/24] }
    routes:
      - { to: default, via: 10.0.2.1 }
links:
  - endpoints: [h1:eth0, r:eth0]
    conditions: { delay: 1ms }
  - endpoints: [r:eth1, h2:eth0]
    conditions: { delay: 1ms }
steps:
  - ping: { from: h1, to: r, count: 3 }
  - ping: { from: r, to: h2, count: 3 }
  - name: 1 MiB h1 -> h2 through r in the other process
    tcp: { from: h1, to: h2, bytes: 1MiB, within: 30s }
`;

const HOSTS = `hosts:
  - name: a
    host: local
  - name: b
    host: local
`;

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "wavnet-hosts-"));
  writeFileSync(join(dir, "lab.yaml"), LAB);
  writeFileSync(join(dir, "hosts.yaml"), HOSTS);
});
after(() => rmSync(dir, { recursive: true, force: true }));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

/** The UDP port can be bound again: no socket of the run holds it. */
async function portFree(port: number): Promise<boolean> {
  const s = createSocket("udp4");
  const ok = await new Promise<boolean>((res) => {
    s.once("error", () => res(false));
    s.bind(port, "0.0.0.0", () => res(true));
  });
  await new Promise<void>((r) => s.close(() => r()));
  return ok;
}

describe("wavnet run --hosts: two processes on this machine", () => {
  test("ping across the cut and 1 MiB over TCP through the other process (SHA-256), then nothing left", async () => {
    const r = await cliMain(["run", join(dir, "lab.yaml"), "--hosts", join(dir, "hosts.yaml"), "--json"]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.ok, true);
    assert.equal(doc.clock, "real");
    assert.deepEqual(doc.partitionOf, { h1: 0, r: 1, h2: 0 });
    assert.deepEqual(doc.steps.map((s: { host: string; partition: number; ok: boolean }) => [s.host, s.partition, s.ok]), [["a", 0, true], ["b", 1, true], ["a", 0, true]]);
    assert.match(doc.steps[0].detail, /^3\/3 replies from 10\.0\.1\.1/);
    assert.match(doc.steps[1].detail, /^3\/3 replies from 10\.0\.2\.10/);
    assert.match(doc.steps[2].detail, /^1048576 bytes h1 -> 10\.0\.2\.10:\d+ in .* SHA-256 matches/);
    // Each cut link a VXLAN link: its own VNI, one UDP port per end, the ends pointing at each other.
    assert.deepEqual(doc.cutLinks.map((c: { name: string; vni: number }) => [c.name, c.vni]), [["h1:eth0 - r:eth0", VNI_BASE], ["r:eth1 - h2:eth0", VNI_BASE + 1]]);
    const ports = doc.cutLinks.flatMap((c: { a: { port: number }; b: { port: number } }) => [c.a.port, c.b.port]);
    assert.equal(new Set(ports).size, 4);
    assert.deepEqual(doc.hosts.map((h: { host: string; nodes: string[]; ports: number[] }) => [h.host, h.nodes, h.ports.length]), [["a", ["h1", "h2"], 2], ["b", ["r"], 2]]);
    for (const h of doc.hosts) assert.equal(h.teardown.ok, true, h.teardown.text);
    assert.ok(doc.notes.some((n: string) => /would run this file in virtual time; --hosts runs in real time/.test(n)), doc.notes.join("\n"));
    assert.ok(doc.notes.some((n: string) => /line 23\): its conditions are not applied across hosts/.test(n)), doc.notes.join("\n"));
    // Teardown: every child gone, every VXLAN port free again.
    for (const h of doc.hosts) assert.equal(alive(h.pid), false, `host ${h.host}'s process ${h.pid} is still running`);
    for (const p of ports) assert.equal(await portFree(p), true, `UDP port ${p} is still bound`);
  });

  test("text: the plan with hosts, the VXLAN links, the host of each step, the teardown", async () => {
    const r = await cliMain(["run", join(dir, "lab.yaml"), "--hosts", join(dir, "hosts.yaml"), "--seed", "3"]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /3 nodes, 2 links up in .* over 2 processes .*; real clock, seed 3/);
    assert.match(r.stdout, /^ {2}p1 on b: 1 node \(r\), load /m);
    assert.match(r.stdout, /^ {2}h1:eth0 - r:eth0: VXLAN VNI \d+, a 127\.0\.0\.1:\d+ <-> b 127\.0\.0\.1:\d+$/m);
    assert.match(r.stdout, /ping r -> h2 \[b\]/);
    assert.match(r.stdout, /3 of 3 steps passed/);
    assert.match(r.stdout, /^b \(p1, local, pid \d+\): 1 node \(r\), CPU/m);
    assert.match(r.stdout, /^p1: teardown: 1 vnets destroyed, 0 pages and 0 items leaked$/m);
  });

  test("a child killed mid-run ends the run with its host entry, partition and nodes; the other is ended", async () => {
    const spec = parseTopology(LAB.replace("ping: { from: h1, to: r, count: 3 }", "ping: { from: h1, to: r, count: 100, interval: 100ms }"), "lab.yaml");
    const run = await hostsUp(spec, parseHosts(HOSTS, "hosts.yaml"), { graceMs: 2000 });
    const pids = run.children.map((c) => c.pid!);
    const ports = run.children.flatMap((c) => c.ports);
    assert.equal(ports.length, 4);
    const steps = run.lab.runSteps();
    setTimeout(() => process.kill(pids[1]!, "SIGKILL"), 1500);
    await assert.rejects(steps, (e: unknown) => {
      assert.ok(e instanceof ScaleError, String(e));
      assert.match(e.message, /^partition 1 \(nodes r\) failed: host b \(hosts\.yaml:4, local, pid \d+\): its process was killed \(SIGKILL\)/);
      assert.equal(e.partition, 1);
      assert.deepEqual(e.nodes, ["r"]);
      return true;
    });
    // Bounded: a child nobody ends must fail the test below, not hang it.
    await Promise.race([run.closed(), new Promise((r) => setTimeout(r, 15_000))]);
    assert.equal(run.lab.workersRunning, 0);
    for (const pid of pids) assert.equal(alive(pid), false, `process ${pid} is still running`);
    for (const p of ports) assert.equal(await portFree(p), true, `UDP port ${p} is still bound`);
  });
});

describe("hosts.yaml", () => {
  const err = (text: string) => {
    try {
      parseHosts(text, "h.yaml");
    } catch (e) {
      return (e as Error).message;
    }
    assert.fail("no error");
  };

  test("local and ssh entries, their addresses and ports", () => {
    const h = parseHosts("hosts:\n  - { name: a, host: local }\n  - { name: b, ssh: lab@192.0.2.7, sshPort: 2222, port: 5000 }\n  - { name: c, ssh: \"[2001:db8::7]\", address: 198.51.100.7 }\nimage: reg.example/wavnet:1\n", "h.yaml");
    assert.deepEqual(h.hosts.map((x) => [x.name, x.kind, x.address, x.port, x.line]), [["a", "local", "127.0.0.1", undefined, 2], ["b", "ssh", "192.0.2.7", 5000, 3], ["c", "ssh", "198.51.100.7", 4789, 4]]);
    assert.equal(h.image, "reg.example/wavnet:1");
  });

  test("errors name the file, line, column and what is wrong", () => {
    assert.equal(err("hosts: []\n"), "h.yaml:1:8: hosts: no hosts: the list is empty (at least one entry, one process per partition)");
    assert.equal(err("nodes: []\n"), "2 problems:\n  h.yaml:1:1: nodes: unknown key \"nodes\" (a hosts file has `hosts:` and, for --emit-k8s, `image:`)\n  h.yaml:1:1: no `hosts:` list: name at least one host");
    assert.equal(err("hosts:\n  - name: a\n    host: local\n    cpus: 4\n"), "h.yaml:4:5: hosts[0].cpus: unknown key \"cpus\" (a host has name, host, ssh, sshPort, address, port, command)");
    assert.equal(err("hosts:\n  - { name: a, host: local }\n  - { name: a, host: local }\n"), "h.yaml:3:13: hosts[1].name: duplicate host name \"a\" (first at line 2)");
    assert.equal(err("hosts:\n  - name: b\n    ssh: \"-oProxyCommand=x h\"\n"), "h.yaml:3:10: hosts[0].ssh: host b: bad ssh target \"-oProxyCommand=x h\": user@host or host (a name, an IPv4 address or [IPv6]), no spaces, options or ports (sshPort: N)");
    assert.equal(err("hosts:\n  - { name: b, ssh: lab@host:22 }\n"), "h.yaml:2:21: hosts[0].ssh: host b: bad ssh target \"lab@host:22\": user@host or host (a name, an IPv4 address or [IPv6]), no spaces, options or ports (sshPort: N)");
    assert.equal(err("hosts:\n  - { name: b }\n"), "h.yaml:2:5: hosts[0]: host b: neither host: local nor ssh: user@host");
    assert.equal(err("hosts:\n  - { name: b, host: remote }\n"), "h.yaml:2:22: hosts[0].host: host b: host: must be \"local\" (a remote host is given with ssh: user@host), got \"remote\"");
    assert.equal(err("hosts:\n  - { name: b, host: local, port: 70000 }\n"), "h.yaml:2:35: hosts[0].port: host b: port must be a UDP port, 1 .. 65535, got 70000");
    assert.match(err("hosts:\n  - { name: B_1, host: local }\n"), /^h\.yaml:2:13: hosts\[0\]\.name: name "B_1": lower-case letters/);
  });

  test("the command line of each kind: node on this machine, ssh for a remote one", () => {
    const [local, remote] = parseHosts("hosts:\n  - { name: a, host: local }\n  - { name: b, ssh: lab@192.0.2.7, sshPort: 2222, command: \"/opt/wavnet/bin/wavnet-partition --x 'y z'\" }\n", "h.yaml").hosts;
    const argv = childArgv(local!);
    assert.equal(argv[0], process.execPath);
    assert.match(argv.at(-1)!, /host\/scale\/host_child\.ts$/);
    assert.deepEqual(sshArgv(remote!), ["ssh", "-o", "BatchMode=yes", "-o", "ServerAliveInterval=5", "-p", "2222", "-T", "--", "lab@192.0.2.7", "/opt/wavnet/bin/wavnet-partition", "--x", "''\\''y'", "'z'\\'''"]);
    assert.deepEqual(childArgv(remote!), sshArgv(remote!));
    const [plain] = parseHosts("hosts:\n  - { name: b, ssh: h7 }\n", "h.yaml").hosts;
    assert.deepEqual(sshArgv(plain!), ["ssh", "-o", "BatchMode=yes", "-o", "ServerAliveInterval=5", "-T", "--", "h7", "wavnet-partition"]);
  });

  test("the CLI: a hosts.yaml error is a usage error at its line; --hosts excludes --workers; --emit-k8s needs --hosts", async () => {
    writeFileSync(join(dir, "bad.yaml"), "hosts:\n  - { name: a, host: local }\n  - { name: a, host: local }\n");
    let r = await cliMain(["run", join(dir, "lab.yaml"), "--hosts", join(dir, "bad.yaml")]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /bad\.yaml:3:13: hosts\[1\]\.name: duplicate host name "a" \(first at line 2\)/);
    r = await cliMain(["run", join(dir, "lab.yaml"), "--hosts", join(dir, "hosts.yaml"), "--workers", "2"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--hosts and --workers exclude each other/);
    r = await cliMain(["run", join(dir, "lab.yaml"), "--emit-k8s", dir]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--emit-k8s is for --hosts/);
    r = await cliMain(["run", join(dir, "lab.yaml"), "--hosts", join(dir, "nope.yaml")]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--hosts .*nope\.yaml: ENOENT/);
  });
});

describe("--emit-k8s", () => {
  const K8S_HOSTS = "hosts:\n  - { name: a, host: local }\n  - { name: b, ssh: lab@node2, port: 6000 }\nimage: reg.example/wavnet:0.2.0\n";

  /** Every object of the files in d, validated by its kind's Kubernetes schema. */
  function validateAll(objects: Record<string, unknown>[]): void {
    for (const o of objects) {
      const M = o.kind === "ConfigMap" ? ConfigMap : o.kind === "Service" ? Service : o.kind === "Deployment" ? Deployment : undefined;
      assert.ok(M, `unexpected kind ${String(o.kind)}`);
      new M(o as never).validate();
    }
  }

  test("a ConfigMap, a headless Service and a Deployment per partition, valid by the Kubernetes API schemas", async () => {
    const parts = await k8sManifests(parseTopology(LAB, "lab.yaml"), parseHosts(K8S_HOSTS, "h.yaml"), { image: "reg.example/wavnet:0.2.0" });
    assert.deepEqual(parts.map((p) => [p.file, p.objects.map((o) => o.kind)]), [["across-a.yaml", ["ConfigMap", "Service", "Deployment"]], ["across-b.yaml", ["ConfigMap", "Service", "Deployment"]]]);
    validateAll(parts.flatMap((p) => p.objects));
    // The validator does refuse a bad object (a port as a string), so the pass above means something.
    const bad = structuredClone(parts[0]!.objects[2]!) as { spec: { template: { spec: { containers: { ports: { containerPort: unknown }[] }[] } } } };
    bad.spec.template.spec.containers[0]!.ports[0]!.containerPort = "4789";
    assert.throws(() => validateAll([bad as unknown as Record<string, unknown>]), /containerPort must be integer/);
    // Each partition's vxlan ends point at the other's Service name and port, with the link's VNI.
    const inits = parts.map((p) => JSON.parse((p.objects[0] as { data: Record<string, string> }).data["partition.json"]!) as HostInit);
    const vx = (i: HostInit) => i.spec.nodes.flatMap((n) => n.interfaces.filter((x) => x.kind === "vxlan").map((x) => `${n.name}:${x.name} vni ${x.vni} local ${x.localPort} -> ${x.remote}`));
    assert.deepEqual(vx(inits[0]!), [`h1:eth0 vni ${VNI_BASE} local 4789 -> across-b:6000`, `h2:eth0 vni ${VNI_BASE + 1} local 4790 -> across-b:6001`]);
    assert.deepEqual(vx(inits[1]!), [`r:eth0 vni ${VNI_BASE} local 6000 -> across-a:4789`, `r:eth1 vni ${VNI_BASE + 1} local 6001 -> across-a:4790`]);
    assert.deepEqual(inits.map((i) => i.ownSteps), [[0, 2], [1]]);
    const svc = parts[1]!.objects[1] as { spec: { clusterIP: string; ports: { port: number; protocol: string }[] } };
    assert.equal(svc.spec.clusterIP, "None");
    assert.deepEqual(svc.spec.ports.map((x) => [x.port, x.protocol]), [[6000, "UDP"], [6001, "UDP"]]);
  });

  test("the CLI writes one file per partition; what it writes parses and validates", async () => {
    const out = join(dir, "k8s");
    writeFileSync(join(dir, "k8s-hosts.yaml"), K8S_HOSTS);
    const r = await cliMain(["run", join(dir, "lab.yaml"), "--hosts", join(dir, "k8s-hosts.yaml"), "--emit-k8s", out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /across-b\.yaml: partition 1 on b \(ConfigMap, Service, Deployment\)/);
    assert.deepEqual(readdirSync(out).sort(), ["across-a.yaml", "across-b.yaml"]);
    const objects = readdirSync(out).flatMap((f) => parseAllDocuments(readFileSync(join(out, f), "utf8")).map((d) => d.toJS() as Record<string, unknown>));
    assert.equal(objects.length, 6);
    validateAll(objects);
    assert.equal((objects[2] as { spec: { template: { spec: { containers: { image: string }[] } } } }).spec.template.spec.containers[0]!.image, "reg.example/wavnet:0.2.0");
  });
});
