/**
 * The :authority rewrite for kubelets that name the unix socket's path (src/cri/unix-authority.ts):
 * header blocks built by hand (RFC 7541), and whole client byte streams in HTTP/2 frames
 * (RFC 7540), fed one byte at a time.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { RequestHeaderRewriter, rewriteAuthority } from "../../src/cri/unix-authority.js";

const str = (s: string): Buffer => Buffer.concat([Buffer.from([s.length]), Buffer.from(s, "latin1")]);
const hex = (b: Buffer): string => b.toString("hex");

test("rewriteAuthority replaces a socket path or an empty value, never with a longer one, and keeps the representation", () => {
  // Literal with incremental indexing, name = static index 1 (:authority); then ":method: POST" indexed.
  assert.equal(hex(rewriteAuthority(Buffer.concat([Buffer.from([0x41]), str("/run/rkt/cri.sock"), Buffer.from([0x83])]))), hex(Buffer.concat([Buffer.from([0x41]), str("localhost"), Buffer.from([0x83])])));
  // Without indexing (4-bit prefix), an empty value: the shortest valid one.
  assert.equal(hex(rewriteAuthority(Buffer.concat([Buffer.from([0x01]), str("")]))), hex(Buffer.concat([Buffer.from([0x01]), str("x")])));
  // An empty authority sent as static entry 1 (indexed): a literal "x" without indexing.
  assert.equal(hex(rewriteAuthority(Buffer.from([0x83, 0x81, 0x86]))), hex(Buffer.concat([Buffer.from([0x83, 0x01]), str("x"), Buffer.from([0x86])])));
  // A short path: "x", not the longer "localhost" (the server's dynamic table must not grow).
  assert.equal(hex(rewriteAuthority(Buffer.concat([Buffer.from([0x41]), str("/a.sock")]))), hex(Buffer.concat([Buffer.from([0x41]), str("x")])));
  // A Huffman-coded value: its decoded length is unknown, so "x".
  const huffman = Buffer.concat([Buffer.from([0x41, 0x80 | 4]), Buffer.from([0x61, 0x62, 0x63, 0x64])]);
  assert.equal(hex(rewriteAuthority(huffman)), hex(Buffer.concat([Buffer.from([0x41]), str("x")])));
  // A name given as the plain string ":authority", never indexed (0x10).
  assert.equal(hex(rewriteAuthority(Buffer.concat([Buffer.from([0x10]), str(":authority"), str("/s")]))), hex(Buffer.concat([Buffer.from([0x10]), str(":authority"), str("x")])));
  // Valid authorities, other fields, dynamic table size updates and indexed fields stay as they are.
  for (const block of [
    Buffer.concat([Buffer.from([0x41]), str("localhost:10250")]),
    Buffer.concat([Buffer.from([0x3f, 0xe1, 0x1f]), Buffer.from([0x44]), str("/runtime.v1alpha2.RuntimeService/Version"), Buffer.from([0xbe])]),
    Buffer.concat([Buffer.from([0x40]), str("grpc-timeout"), str("2S")]),
  ]) {
    assert.equal(hex(rewriteAuthority(block)), hex(block));
  }
  // A truncated block is left alone (the server reports it).
  const truncated = Buffer.from([0x41, 0x11, 0x2f]);
  assert.equal(hex(rewriteAuthority(truncated)), hex(truncated));
});

function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}

test("RequestHeaderRewriter: the preface and other frames pass as they are; padded, prioritised and continued HEADERS come out as one rewritten frame", () => {
  const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
  const settings = frame(0x4, 0, 0, Buffer.from([0, 3, 0, 0, 0, 100]));
  const block = Buffer.concat([Buffer.from([0x83, 0x86]), Buffer.from([0x41]), str("/var/run/kubelet/cri.sock"), Buffer.from([0x44]), str("/x.Y/Z")]);
  const priority = Buffer.from([0, 0, 0, 0, 15]);
  const padding = Buffer.alloc(3);
  // HEADERS (PADDED | PRIORITY | END_STREAM) with half the block, CONTINUATION (END_HEADERS) with the rest.
  const headers = frame(0x1, 0x8 | 0x20 | 0x1, 1, Buffer.concat([Buffer.from([padding.length]), priority, block.subarray(0, 10), padding]));
  const continuation = frame(0x9, 0x4, 1, block.subarray(10));
  const data = frame(0x0, 0x1, 1, Buffer.from([0, 0, 0, 0, 0]));
  const input = Buffer.concat([preface, settings, headers, continuation, data]);

  const rewriter = new RequestHeaderRewriter();
  const out = Buffer.concat([...input].map((b) => rewriter.push(Buffer.from([b]))));
  const expectedBlock = Buffer.concat([Buffer.from([0x83, 0x86, 0x41]), str("localhost"), Buffer.from([0x44]), str("/x.Y/Z")]);
  assert.equal(hex(out), hex(Buffer.concat([preface, settings, frame(0x1, 0x20 | 0x1 | 0x4, 1, Buffer.concat([priority, expectedBlock])), data])));
});

test("RequestHeaderRewriter gives up on a stream it does not understand and passes everything on from there", () => {
  const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
  // A HEADERS frame without END_HEADERS followed by a DATA frame: a protocol error the server must see.
  const headers = frame(0x1, 0, 1, Buffer.concat([Buffer.from([0x41]), str("/s.sock")]));
  const data = frame(0x0, 0, 1, Buffer.from("abc"));
  const rewriter = new RequestHeaderRewriter();
  const out = Buffer.concat([rewriter.push(Buffer.concat([preface, headers, data])), rewriter.push(Buffer.from("later bytes"))]);
  assert.equal(hex(out), hex(Buffer.concat([preface, headers, data, Buffer.from("later bytes")])));
});
