/**
 * The SPDY/3.1 pieces on their own: the dictionary, header blocks against zlib's streaming
 * codec, the frame parser fed byte by byte, and two SpdySessions (client and server roles)
 * talking over a socket pair, including a peer that breaks the framing.
 */
import assert from "node:assert/strict";
import { createServer, connect, type Socket } from "node:net";
import { test, type TestContext } from "node:test";
import { constants, createDeflate, createInflate } from "node:zlib";
import { adler32, decodeHeaderBlock, encodeHeaderBlock, HeaderCompressor, HeaderDecompressor } from "../../../src/cri/streaming/spdy/header-block.js";
import { SPDY_DICTIONARY } from "../../../src/cri/streaming/spdy/spdy-dictionary.js";
import { pingFrame, rstStreamFrame, settingsFrame, SpdyFrameParser, synReplyFrame, windowUpdateFrame } from "../../../src/cri/streaming/spdy/spdy-frame.js";
import { SpdySession, type SpdyStream } from "../../../src/cri/streaming/spdy/spdy-session.js";
import { RequestCache } from "../../../src/cri/streaming/request-cache.js";

function step(z: ReturnType<typeof createDeflate> | ReturnType<typeof createInflate>, input: Buffer): Promise<Buffer> {
  return new Promise((resolve) => {
    const out: Buffer[] = [];
    const onData = (d: Buffer): void => {
      out.push(d);
    };
    z.on("data", onData);
    z.write(input);
    z.flush(constants.Z_SYNC_FLUSH, () => {
      z.off("data", onData);
      resolve(Buffer.concat(out));
    });
  });
}

test("SPDY_DICTIONARY is the 1423 bytes of SPDY/3, starting with the length-prefixed 'options'", () => {
  assert.equal(SPDY_DICTIONARY.length, 1423);
  assert.deepEqual(SPDY_DICTIONARY.subarray(0, 11), Buffer.from([0, 0, 0, 7, ...Buffer.from("options")]));
  assert.equal(SPDY_DICTIONARY.subarray(-7).toString(), ",enq=0.");
  assert.equal(adler32(Buffer.from("Wikipedia")), 0x11e60398, "Adler-32 itself, on RFC 1950's usual example");
});

test("HeaderDecompressor reads a zlib stream with the SPDY dictionary across many header blocks (as Go writes them)", async () => {
  const deflate = createDeflate({ dictionary: SPDY_DICTIONARY, level: 9 });
  const decompressor = new HeaderDecompressor();
  for (let i = 0; i < 200; i++) {
    const block = encodeHeaderBlock([["streamtype", i % 2 === 0 ? "error" : "data"], ["port", String(8000 + i)], ["requestid", String(i)], ["x-filler", "accept-encoding ".repeat(i % 40)]]);
    assert.deepEqual(decompressor.decompress(await step(deflate, block)), block, `block ${i}`);
  }
});

test("HeaderCompressor writes a zlib stream that a streaming inflate with the dictionary reads back", async () => {
  const inflate = createInflate({ dictionary: SPDY_DICTIONARY });
  const compressor = new HeaderCompressor();
  for (let i = 0; i < 50; i++) {
    const block = encodeHeaderBlock([["status", "200"], ["x", "y".repeat(i * 37)]]);
    const back = await step(inflate, compressor.compress(block));
    assert.deepEqual(decodeHeaderBlock(back), new Map([["status", ["200"]], ["x", ["y".repeat(i * 37)]]]));
  }
});

test("decodeHeaderBlock lower-cases names, splits NUL-separated values, rejects truncation", () => {
  const block = encodeHeaderBlock([["StreamType", "data"], ["multi", ["a", "b"]]]);
  assert.deepEqual(decodeHeaderBlock(block), new Map([["streamtype", ["data"]], ["multi", ["a", "b"]]]));
  assert.throws(() => decodeHeaderBlock(block.subarray(0, block.length - 1)), { name: "HeaderBlockError" });
  const bad = new HeaderDecompressor();
  assert.throws(() => bad.decompress(Buffer.from([0x78, 0xbb, 1, 2, 3, 4, 5])), /unknown dictionary/);
});

test("SpdyFrameParser finds frames fed one byte at a time, and ignores unknown control frames", () => {
  const bytes = Buffer.concat([settingsFrame([{ id: 7, value: 1234 }]), pingFrame(3), Buffer.from([0x80, 0x03, 0x00, 0x0a, 0, 0, 0, 2, 9, 9]), windowUpdateFrame(5, 100), rstStreamFrame(7, 5), synReplyFrame(9, 1, Buffer.from("zz"))]);
  const parser = new SpdyFrameParser();
  const kinds: string[] = [];
  for (const b of bytes) {
    parser.push(Buffer.from([b]));
    for (let f = parser.next(); f !== undefined; f = parser.next()) kinds.push(JSON.stringify(f.kind === "syn-reply" ? { ...f, headerBlock: f.headerBlock.toString() } : f));
  }
  assert.deepEqual(kinds.map((k) => JSON.parse(k) as unknown), [
    { kind: "settings", flags: 0, entries: [{ flags: 0, id: 7, value: 1234 }] },
    { kind: "ping", id: 3 },
    { kind: "unknown", type: 10, version: 3 },
    { kind: "window-update", streamId: 5, delta: 100 },
    { kind: "rst-stream", streamId: 7, status: 5 },
    { kind: "syn-reply", streamId: 9, flags: 1, headerBlock: "zz" },
  ]);
  assert.equal(parser.buffered, 0);
});

async function socketPair(t: TestContext): Promise<[Socket, Socket]> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no address");
  const accepted = new Promise<Socket>((resolve) => server.once("connection", resolve));
  const client = connect(address.port, "127.0.0.1");
  const s = await accepted;
  t.after(() => {
    client.destroy();
    s.destroy();
    server.close();
  });
  return [client, s];
}

test("SpdySession client and server: streams with headers both ways, half-close, PING, and RST", async (t) => {
  const [a, b] = await socketPair(t);
  const client = new SpdySession(a, { server: false });
  const server = new SpdySession(b, { server: true });
  server.on("stream", (stream: SpdyStream) => {
    stream.on("error", () => undefined);
    if (stream.header("kind") === "refuse") {
      stream.reset(3);
      return;
    }
    stream.reply([["accepted", stream.header("kind") ?? ""]]);
    // Echo, upper-cased, then close our side when the client closes its own.
    stream.on("data", (d: Buffer) => stream.write(d.toString().toUpperCase()));
    stream.on("end", () => stream.end());
  });
  const s = client.openStream([["kind", "echo"]]);
  await s.waitReply();
  assert.deepEqual(s.replyHeaders?.get("accepted"), ["echo"]);
  let got = "";
  s.on("data", (d: Buffer) => (got += d.toString()));
  s.end("quiet words");
  await new Promise<void>((resolve) => s.on("end", resolve));
  assert.equal(got, "QUIET WORDS");
  assert.ok((await client.ping()) >= 0);

  const refused = client.openStream([["kind", "refuse"]]);
  const err = await new Promise<Error>((resolve) => refused.once("error", resolve));
  assert.match(err.message, /reset by the peer \(status 3\)/);
  client.close();
  await new Promise<void>((resolve) => (server.isClosed ? resolve() : server.once("close", () => resolve())));
});

test("SpdySession: a peer that sends a broken header block gets GOAWAY PROTOCOL_ERROR and is hung up on", async (t) => {
  const [a, b] = await socketPair(t);
  const server = new SpdySession(b, { server: true });
  server.on("stream", () => assert.fail("no stream should get through"));
  const received: Buffer[] = [];
  a.on("data", (d: Buffer) => received.push(d));
  const closed = new Promise<void>((resolve) => a.on("close", () => resolve()));
  // SYN_STREAM 1 whose header block is not zlib.
  const payload = Buffer.concat([Buffer.from([0, 0, 0, 1, 0, 0, 0, 0, 0, 0]), Buffer.from("not zlib at all")]);
  const head = Buffer.from([0x80, 0x03, 0x00, 0x01, 0, 0, 0, payload.length]);
  a.write(Buffer.concat([head, payload]));
  await closed;
  const all = Buffer.concat(received);
  assert.deepEqual(all.subarray(0, 4), Buffer.from([0x80, 0x03, 0x00, 0x07]), "GOAWAY");
  assert.equal(all.readUInt32BE(12), 1, "PROTOCOL_ERROR");
});

test("RequestCache: tokens are single-use, expire, and at most maxInFlight wait", () => {
  let now = 0;
  const cache = new RequestCache<string>({ ttlMs: 100, maxInFlight: 2, now: () => now });
  const a = cache.insert("a");
  const b = cache.insert("b");
  assert.notEqual(a, b);
  assert.throws(() => cache.insert("c"), { kind: "resource-exhausted" });
  assert.equal(cache.consume(a), "a");
  assert.equal(cache.consume(a), undefined);
  now = 150;
  assert.equal(cache.consume(b), undefined, "expired");
  assert.equal(cache.size, 0);
  cache.insert("d");
  cache.insert("e");
});
