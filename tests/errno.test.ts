// The one errno table (host/lib/errors.ts Errno: the kernel's FreeBSD numbers and their
// names) and the only other numbering, libuv's, which the Node look-alikes reach by name.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { constants as osConstants } from "node:os";
import { Errno, errnoName } from "../host/lib/errors.js";
import { uvErrno, netError } from "../host/node/net_common.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** `export const EXXX: i32 = N;` across the kernel's sources (tests excluded). */
function kernelErrnos(): Map<string, number> {
  const out = new Map<string, number>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) {
        if (e.name !== "__tests__") walk(join(d, e.name));
      } else if (e.name.endsWith(".ts")) {
        for (const m of readFileSync(join(d, e.name), "utf8").matchAll(/^export const (E[A-Z]+): i32 = (\d+);/gm)) out.set(m[1], Number(m[2]));
      }
    }
  };
  walk(join(root, "assembly"));
  return out;
}

describe("errno", () => {
  test("every name in the host's table is the kernel's, with the kernel's number; numbers are unique", () => {
    const k = kernelErrnos();
    for (const [name, n] of Object.entries(Errno)) assert.equal(k.get(name), n, `${name}: the kernel defines it as ${k.get(name)}`);
    assert.equal(new Set(Object.values(Errno)).size, Object.keys(Errno).length, "one name per number");
  });

  test("errnoName: either sign, and a number the table does not have says so", () => {
    assert.equal(errnoName(-61), "ECONNREFUSED");
    assert.equal(errnoName(Errno.EADDRINUSE), "EADDRINUSE");
    assert.equal(errnoName(-99), "errno 99");
  });

  test("Node's look-alikes report libuv's numbers for this platform, reached by name", () => {
    for (const name of Object.keys(Errno)) {
      const uv = (osConstants.errno as Record<string, number>)[name];
      assert.equal(uvErrno(name), uv !== undefined ? -uv : -4094, name);
    }
    assert.equal(uvErrno(errnoName(-Errno.ECONNREFUSED)), -osConstants.errno.ECONNREFUSED);
    assert.equal(uvErrno("ENOTFOUND"), -3008, "getaddrinfo's UV_EAI_NONAME");
    assert.equal(uvErrno("errno 99"), -4094, "UV_UNKNOWN");
    const e = netError("connect", "ECONNREFUSED", "10.0.0.2", 80);
    assert.equal(e.errno, -osConstants.errno.ECONNREFUSED);
    assert.equal(e.message, "connect ECONNREFUSED 10.0.0.2:80");
  });
});
