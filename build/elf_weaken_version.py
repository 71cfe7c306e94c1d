#!/usr/bin/env python3
"""Marks one version need of an ELF64 little-endian shared library as WEAK (vna_flags |= VER_FLG_WEAK).

Usage: elf_weaken_version.py LIBRARY VERSION_NAME
Reads the section headers, finds .gnu.version_r (SHT_GNU_verneed) and its string table, walks the
Elf64_Verneed / Elf64_Vernaux chains and sets bit 2 of vna_flags on the entry whose name is VERSION_NAME.
Only the standard library is used; the file is edited in place.
"""
import struct
import sys

SHT_GNU_VERNEED = 0x6FFFFFFE
VER_FLG_WEAK = 0x2


def main(path: str, version: str) -> int:
    with open(path, "r+b") as f:
        data = bytearray(f.read())
        if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
            print(f"{path}: not an ELF64 little-endian file", file=sys.stderr)
            return 1
        e_shoff, = struct.unpack_from("<Q", data, 0x28)
        e_shentsize, e_shnum = struct.unpack_from("<HH", data, 0x3A)
        sections = [struct.unpack_from("<IIQQQQIIQQ", data, e_shoff + i * e_shentsize) for i in range(e_shnum)]
        for sh in sections:
            _, sh_type, _, _, sh_offset, _, sh_link, sh_info, _, _ = sh
            if sh_type != SHT_GNU_VERNEED:
                continue
            strtab_offset = sections[sh_link][4]
            need = sh_offset
            for _ in range(sh_info):
                _, vn_cnt, _, vn_aux, vn_next = struct.unpack_from("<HHIII", data, need)
                aux = need + vn_aux
                for _ in range(vn_cnt):
                    _, vna_flags, _, vna_name, vna_next = struct.unpack_from("<IHHII", data, aux)
                    end = data.index(b"\0", strtab_offset + vna_name)
                    if data[strtab_offset + vna_name:end].decode() == version:
                        struct.pack_into("<H", data, aux + 4, vna_flags | VER_FLG_WEAK)
                        f.seek(0)
                        f.write(data)
                        return 0
                    aux += vna_next
                need += vn_next
    print(f"{path}: no version need named {version}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
