// Regular expressions checked by RE2 itself, as Envoy compiles them: a C interface to
// the one thing Chancery asks of RE2 (does this pattern compile, and how big is it).
#ifndef CHANCERY_CRE2_H
#define CHANCERY_CRE2_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// 1 when this build links RE2 (Debian's libre2-dev was present), else 0.
int chancery_re2_available(void);

/// Compiles the `length` bytes at `pattern` with RE2's default options, quietly (as
/// Envoy's google_re2 engine does). Returns the compiled program's size (>= 0); or -1
/// with RE2's error, NUL-terminated and cut to `capacity`, in `error`; or -2 when RE2 is
/// not available in this build.
long chancery_re2_program_size(const char *pattern, size_t length, char *error, size_t capacity);

#ifdef __cplusplus
}
#endif

#endif
