#!/bin/sh
# Builds src/main/c/nativegcm.c into OUT/libnativegcm.so (Linux x86-64, with gcc and libssl-dev's
# headers), for the jar to carry. Without them it builds nothing and says so: the daemon then seals
# records on the JCE provider, the same bytes (NativeGcm says which in its start-up line).
#   build.sh OUT JAVA_HOME
set -eu
out=$1
jh=$2
here=$(cd "$(dirname "$0")" && pwd)
if [ "$(uname -s)-$(uname -m)" != Linux-x86_64 ]; then
    echo "native AEADs (AES-GCM, ChaCha20-Poly1305): not built (not Linux x86-64)" >&2
    exit 0
fi
if ! command -v gcc >/dev/null || [ ! -f /usr/include/openssl/evp.h ] || [ ! -f "$jh/include/jni.h" ]; then
    echo "native AEADs (AES-GCM, ChaCha20-Poly1305): not built (needs gcc, libssl-dev and the JDK's jni.h); records are sealed on the JCE provider" >&2
    exit 0
fi
mkdir -p "$out"
gcc -O2 -fPIC -shared -Wall -Wextra -Werror -fstack-protector-strong -D_FORTIFY_SOURCE=2 \
    -Wl,-z,relro,-z,now,-z,noexecstack -Wl,--as-needed \
    -I"$jh/include" -I"$jh/include/linux" -o "$out/libnativegcm.so" "$here/nativegcm.c" -lcrypto
