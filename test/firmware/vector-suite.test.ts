// The vector suite itself, run against an independent HOTP/TOTP written on Node's createHmac (sanity of the suite).
import { createHmac } from "node:crypto";
import { runVectorSuite, type VectorCase } from "../harness/vector-suite";

function nodeTotp(c: VectorCase): string {
  const counter = Math.floor(c.t / c.period);
  const msg = Buffer.alloc(8);
  msg.writeUInt32BE(Math.floor(counter / 4294967296), 0);
  msg.writeUInt32BE(counter % 4294967296, 4);
  const h = createHmac(c.alg.toLowerCase(), Buffer.from(c.keyHex, "hex")).update(msg).digest();
  const o = h[h.length - 1] & 15;
  const bin = h.readUInt32BE(o) & 0x7fffffff;
  return String(bin % 10 ** c.digits).padStart(c.digits, "0");
}

runVectorSuite({
  name: "node:crypto reference (checks the suite)",
  algs: ["SHA1", "SHA256", "SHA512"],
  minT: 0,
  maxT: 2 ** 40,
  generate: async (cases) => cases.map(nodeTotp),
});

runVectorSuite({
  name: "node:crypto reference, device time range",
  algs: ["SHA1", "SHA256"],
  generate: async (cases) => cases.map(nodeTotp),
});
