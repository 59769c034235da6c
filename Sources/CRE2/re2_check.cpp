#include "CRE2.h"

#include <cstring>
#include <string>

#if defined(CHANCERY_HAVE_RE2)
#include <re2/re2.h>

int chancery_re2_available(void) { return 1; }

long chancery_re2_program_size(const char *pattern, size_t length, char *error, size_t capacity) {
    re2::RE2 compiled(re2::StringPiece(pattern, length), re2::RE2::Quiet);
    if (!compiled.ok()) {
        if (capacity > 0) {
            const std::string &message = compiled.error();
            size_t count = message.size() < capacity - 1 ? message.size() : capacity - 1;
            std::memcpy(error, message.data(), count);
            error[count] = '\0';
        }
        return -1;
    }
    return compiled.ProgramSize();
}

#else

int chancery_re2_available(void) { return 0; }

long chancery_re2_program_size(const char *, size_t, char *error, size_t capacity) {
    if (capacity > 0) error[0] = '\0';
    return -2;
}

#endif
