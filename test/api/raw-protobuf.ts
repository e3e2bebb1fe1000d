/**
 * Protocol Buffers wire format by hand (varint, zigzag, length-delimited), for a client that
 * knows rkt's api.proto only by its field numbers: no .proto, no generated code, so it shows
 * that our service speaks rkt's wire format and not just whatever our own .proto says.
 * (developers.google.com/protocol-buffers/docs/encoding)
 */

/** A field to encode: its number and a value of one wire type. */
export type RawField =
  | { readonly no: number; readonly varint: bigint | number | boolean }
  | { readonly no: number; readonly sint: number }
  | { readonly no: number; readonly bytes: Buffer | string }
  | { readonly no: number; readonly message: readonly RawField[] }
  | { readonly no: number; readonly packed: readonly number[] };

function varint(value: bigint): Buffer {
  const out: number[] = [];
  let v = BigInt.asUintN(64, value);
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return Buffer.from(out);
}

function key(no: number, wire: number): Buffer {
  return varint(BigInt((no << 3) | wire));
}

/**
 * Encodes a message from its fields, in the order given.
 *
 * @example
 * encode([{ no: 1, bytes: "abc" }, { no: 2, varint: true }]);
 */
export function encode(fields: readonly RawField[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of fields) {
    if ("varint" in f) parts.push(key(f.no, 0), varint(BigInt(typeof f.varint === "boolean" ? Number(f.varint) : f.varint)));
    else if ("sint" in f) parts.push(key(f.no, 0), varint(BigInt((f.sint << 1) ^ (f.sint >> 31)) & 0xffffffffn));
    else if ("packed" in f) {
      const body = Buffer.concat(f.packed.map((v) => varint(BigInt(v))));
      parts.push(key(f.no, 2), varint(BigInt(body.length)), body);
    } else {
      const body = "bytes" in f ? (typeof f.bytes === "string" ? Buffer.from(f.bytes) : f.bytes) : encode(f.message);
      parts.push(key(f.no, 2), varint(BigInt(body.length)), body);
    }
  }
  return Buffer.concat(parts);
}

/** A decoded field value: a varint, or the bytes of a length-delimited field. */
export type RawValue = bigint | Buffer;

/**
 * Decodes a message into its fields by number (repeated fields keep every value, in order).
 * Fixed 32/64-bit fields are skipped: rkt's API has none.
 */
export function decode(buf: Buffer): Map<number, RawValue[]> {
  const fields = new Map<number, RawValue[]>();
  let pos = 0;
  const readVarint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const byte = buf[pos++];
      if (byte === undefined) throw new Error("truncated varint");
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (pos < buf.length) {
    const k = Number(readVarint());
    const no = k >> 3;
    const wire = k & 7;
    let value: RawValue;
    if (wire === 0) value = readVarint();
    else if (wire === 2) {
      const len = Number(readVarint());
      value = buf.subarray(pos, pos + len);
      pos += len;
    } else if (wire === 1) {
      pos += 8;
      continue;
    } else if (wire === 5) {
      pos += 4;
      continue;
    } else throw new Error(`unsupported wire type ${wire}`);
    fields.set(no, [...(fields.get(no) ?? []), value]);
  }
  return fields;
}

/** Field `no` as a string (first value), "" when absent. */
export function str(fields: Map<number, RawValue[]>, no: number): string {
  const v = fields.get(no)?.[0];
  return v instanceof Buffer ? v.toString("utf8") : "";
}

/** Field `no` as an unsigned varint (first value), 0n when absent. */
export function uint(fields: Map<number, RawValue[]>, no: number): bigint {
  const v = fields.get(no)?.[0];
  return typeof v === "bigint" ? v : 0n;
}

/** Field `no` as a zigzag sint32 (first value), 0 when absent. */
export function sint(fields: Map<number, RawValue[]>, no: number): number {
  const v = Number(uint(fields, no));
  return (v >>> 1) ^ -(v & 1);
}

/** Every value of message field `no`, decoded. */
export function messages(fields: Map<number, RawValue[]>, no: number): Map<number, RawValue[]>[] {
  return (fields.get(no) ?? []).filter((v): v is Buffer => v instanceof Buffer).map(decode);
}
