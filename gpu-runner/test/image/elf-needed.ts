import { open } from "node:fs/promises";

const SHT_DYNAMIC = 6;
const DT_NULL = 0n;
const DT_NEEDED = 1n;

/**
 * The `DT_NEEDED` entries of a 64-bit little-endian ELF shared object (what `readelf -d`
 * lists as "Shared library: [...]"): the libraries the dynamic loader must find to load it.
 * Reads only the headers, the dynamic section and its string table, not the whole file.
 */
export async function elfNeeded(file: string): Promise<string[]> {
  const handle = await open(file, "r");
  try {
    const read = async (position: number | bigint, length: number) => {
      const buffer = Buffer.alloc(length);
      await handle.read(buffer, 0, length, Number(position));
      return buffer;
    };
    const header = await read(0, 64);
    if (header.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${file} is not an ELF file`);
    if (header[4] !== 2 || header[5] !== 1) throw new Error(`${file} is not 64-bit little-endian`);
    const sectionsAt = header.readBigUInt64LE(0x28);
    const sectionSize = header.readUInt16LE(0x3a);
    const sectionCount = header.readUInt16LE(0x3c);
    const sections = await read(sectionsAt, sectionSize * sectionCount);
    const section = (index: number) => {
      const at = index * sectionSize;
      return {
        type: sections.readUInt32LE(at + 4),
        offset: sections.readBigUInt64LE(at + 0x18),
        size: Number(sections.readBigUInt64LE(at + 0x20)),
        link: sections.readUInt32LE(at + 0x28),
      };
    };
    for (let index = 0; index < sectionCount; index++) {
      const dynamic = section(index);
      if (dynamic.type !== SHT_DYNAMIC) continue;
      const strings = section(dynamic.link);
      const table = await read(strings.offset, strings.size);
      const entries = await read(dynamic.offset, dynamic.size);
      const needed: string[] = [];
      for (let at = 0; at + 16 <= entries.length; at += 16) {
        const tag = entries.readBigInt64LE(at);
        if (tag === DT_NULL) break;
        if (tag !== DT_NEEDED) continue;
        const start = Number(entries.readBigUInt64LE(at + 8));
        needed.push(table.toString("latin1", start, table.indexOf(0, start)));
      }
      return needed;
    }
    return [];
  } finally {
    await handle.close();
  }
}
