/**
 * Event Hubs partitioning for the local stack. Events with the same partition key go to the same partition — the
 * partition Event Hubs itself would pick (the Jenkins lookup3 hash the Event Hubs SDKs and service use, folded to 16
 * bits) — so they are batched and processed in order. Keyless sends are spread round-robin, one send (one ingest
 * request) to one partition, as Event Hubs spreads keyless batches.
 *
 * See: https://learn.microsoft.com/azure/event-hubs/event-hubs-features#mapping-of-events-to-partitions
 */
import { Buffer } from 'node:buffer';

/** The system property IoT Hub's built-in endpoint partitions by. */
export const IOT_HUB_DEVICE_ID = 'iothub-connection-device-id';

/**
 * The 16-bit partition-key hash of Event Hubs: lookup3 `hashlittle2` over the UTF-8 bytes with both seeds 0,
 * the two 32-bit results XORed and cast to a signed 16-bit integer.
 * @param partitionKey - the key
 */
export function hashPartitionKey(partitionKey: string): number {
  const data = Buffer.from(partitionKey, 'utf8');
  let a = (0xdeadbeef + data.length) >>> 0;
  let b = a;
  let c = a;
  const word = (i: number): number => data.readUInt32LE(i);
  let i = 0;
  let size = data.length;
  while (size > 12) {
    a = (a + word(i)) >>> 0;
    b = (b + word(i + 4)) >>> 0;
    c = (c + word(i + 8)) >>> 0;
    // mix(a, b, c)
    a = (a - c) >>> 0;
    a ^= rot(c, 4);
    c = (c + b) >>> 0;
    b = (b - a) >>> 0;
    b ^= rot(a, 6);
    a = (a + c) >>> 0;
    c = (c - b) >>> 0;
    c ^= rot(b, 8);
    b = (b + a) >>> 0;
    a = (a - c) >>> 0;
    a ^= rot(c, 16);
    c = (c + b) >>> 0;
    b = (b - a) >>> 0;
    b ^= rot(a, 19);
    a = (a + c) >>> 0;
    c = (c - b) >>> 0;
    c ^= rot(b, 4);
    b = (b + a) >>> 0;
    i += 12;
    size -= 12;
  }
  if (size === 0) {
    return toInt16(c ^ b);
  }
  // The last 1–12 bytes, little-endian, zero-padded.
  const tail = [0, 0, 0];
  for (let k = 0; k < size; k++) {
    const lane = Math.floor(k / 4);
    tail[lane] = ((tail[lane] ?? 0) + ((data[i + k] ?? 0) << ((k % 4) * 8))) >>> 0;
  }
  a = (a + (tail[0] ?? 0)) >>> 0;
  b = (b + (tail[1] ?? 0)) >>> 0;
  c = (c + (tail[2] ?? 0)) >>> 0;
  // final(a, b, c)
  c ^= b;
  c = (c - rot(b, 14)) >>> 0;
  a ^= c;
  a = (a - rot(c, 11)) >>> 0;
  b ^= a;
  b = (b - rot(a, 25)) >>> 0;
  c ^= b;
  c = (c - rot(b, 16)) >>> 0;
  a ^= c;
  a = (a - rot(c, 4)) >>> 0;
  b ^= a;
  b = (b - rot(a, 14)) >>> 0;
  c ^= b;
  c = (c - rot(b, 24)) >>> 0;
  return toInt16(c ^ b);
}

const rot = (x: number, k: number): number => ((x << k) | (x >>> (32 - k))) >>> 0;

const toInt16 = (x: number): number => (x << 16) >> 16;

/**
 * The partition index Event Hubs assigns a key to.
 * @param partitionKey - the key
 * @param partitionCount - partitions of the hub (at least 1)
 */
export function partitionForKey(partitionKey: string, partitionCount: number): number {
  return Math.abs(hashPartitionKey(partitionKey) % partitionCount);
}

/** Assigns sends to partitions: by key when there is one, round-robin otherwise. */
export interface PartitionAssigner {
  readonly partitionCount: number;
  /**
   * The partition of one send.
   * @param partitionKey - the send's key, if any
   */
  assign(partitionKey: string | undefined): number;
}

/**
 * A partition assigner.
 * @param partitionCount - partitions (at least 1)
 */
export function createPartitionAssigner(partitionCount: number): PartitionAssigner {
  if (!Number.isInteger(partitionCount) || partitionCount < 1) {
    throw new RangeError('partitionCount must be a positive integer');
  }
  let next = 0;
  return {
    partitionCount,
    assign(partitionKey) {
      if (partitionKey !== undefined) {
        return partitionForKey(partitionKey, partitionCount);
      }
      const partition = next;
      next = (next + 1) % partitionCount;
      return partition;
    },
  };
}
