import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { Sha256, sha256Hex } from "../host/lib/sha256.js";

// host/lib/sha256.ts against the FIPS 180-2 / NIST CAVP examples and against node:crypto.

describe("sha256", () => {
  test("FIPS 180-2 appendix B vectors: empty, \"abc\", the two-block message, 1,000,000 x \"a\"", () => {
    assert.equal(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert.equal(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert.equal(sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const h = new Sha256();
    const chunk = new Uint8Array(1000).fill(0x61);
    for (let i = 0; i < 1000; i++) h.update(chunk);
    assert.equal(h.digest(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    assert.equal(sha256Hex("a".repeat(1_000_000)), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  });

  test("every length around the padding boundaries (55, 56, 63, 64, 65 bytes) matches node:crypto", () => {
    for (let n = 0; n <= 200; n++) {
      const b = randomBytes(n);
      assert.equal(sha256Hex(b), createHash("sha256").update(b).digest("hex"), `${n} bytes`);
    }
  });

  test("random data in random chunk sizes matches node:crypto", () => {
    for (let round = 0; round < 20; round++) {
      const data = randomBytes(1 + Math.floor(Math.random() * 300_000));
      const ours = new Sha256();
      for (let off = 0; off < data.length; ) {
        const n = Math.min(data.length - off, Math.floor(Math.random() * 5000));
        ours.update(data.subarray(off, off + n));
        off += n;
      }
      assert.equal(ours.digest(), createHash("sha256").update(data).digest("hex"), `${data.length} bytes`);
    }
  });

  test("strings hash as UTF-8; digestBytes is the raw digest; no update after digest", () => {
    assert.equal(sha256Hex("héllo ☃"), createHash("sha256").update("héllo ☃", "utf8").digest("hex"));
    const h = new Sha256().update("abc");
    assert.deepEqual(Buffer.from(h.digestBytes()).toString("hex"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert.equal(h.digest(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert.throws(() => h.update("x"), /update after digest/);
  });
});
