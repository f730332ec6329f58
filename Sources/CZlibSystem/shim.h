// zlib for the gzip reader in Formats (IDX datasets ship as .gz). Named CZlibSystem because ZIPFoundation, a
// dependency of Formats, already declares a clang module called `CZlib`; two modules of one name do not build.
#include <zlib.h>

// inflateInit2 is a macro (it passes ZLIB_VERSION and sizeof(z_stream)), which Swift cannot call.
static inline int czlib_inflate_init2(z_streamp stream, int window_bits) {
    return inflateInit2(stream, window_bits);
}
