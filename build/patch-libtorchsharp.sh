#!/usr/bin/env bash
# Makes TorchSharp's libLibTorchSharp.so load on systems whose libstdc++ predates GLIBCXX_3.4.32 (Debian 12 has
# 3.4.30). The library needs that version for a single symbol, std::ios_base_library_init(), a no-op added in
# GCC 13. The fix, applied only where the system lacks the version:
#   1. mark the GLIBCXX_3.4.32 version need WEAK (vna_flags |= VER_FLG_WEAK), so the loader does not refuse it;
#   2. clear the symbol's version so it binds by name;
#   3. add a tiny shared library, next to libLibTorchSharp.so, that defines the no-op function.
# Usage: patch-libtorchsharp.sh <dir holding libLibTorchSharp.so> <scratch dir for the shim build>
# Idempotent: a library that already needs the shim is left alone. Called by Directory.Build.targets after build
# and publish.
set -euo pipefail
native_dir=$1
scratch=${2:-$native_dir}
lib="$native_dir/libLibTorchSharp.so"
shim_name=libunetcluster_glibcxx_shim.so
here=$(cd "$(dirname "$0")" && pwd)

[ -f "$lib" ] || exit 0
# Only where needed: the library asks for GLIBCXX_3.4.32 and the system libstdc++ does not provide it.
versions=$(readelf -V "$lib" 2>/dev/null)
[[ $versions == *GLIBCXX_3.4.32* ]] || exit 0
sys_libstdcxx=$(ldconfig -p | awk '/libstdc\+\+\.so\.6 .*x86-64/ {print $NF}' | head -n 1 || true)
if [ -n "$sys_libstdcxx" ] && grep -qa 'GLIBCXX_3.4.32' "$sys_libstdcxx"; then exit 0; fi
dynamic=$(readelf -d "$lib")
[[ $dynamic == *"$shim_name"* ]] && exit 0

for tool in patchelf cc python3; do
  command -v "$tool" >/dev/null || { echo "patch-libtorchsharp: '$tool' is required (apt-get install patchelf gcc python3)" >&2; exit 1; }
done

mkdir -p "$scratch"
shim_src="$scratch/glibcxx_shim.cpp"
cat > "$shim_src" <<'CPP'
// std::ios_base_library_init() is a no-op marker in GCC 13's libstdc++; older libstdc++ initialises iostreams itself.
namespace std { void ios_base_library_init() {} }
CPP
cc -x c++ -shared -fPIC -O2 -nostdlib -o "$native_dir/$shim_name" "$shim_src"

python3 "$here/elf_weaken_version.py" "$lib" GLIBCXX_3.4.32
patchelf --clear-symbol-version _ZSt21ios_base_library_initv "$lib"
patchelf --add-needed "$shim_name" "$lib"
echo "patch-libtorchsharp: patched $lib for a libstdc++ without GLIBCXX_3.4.32"
