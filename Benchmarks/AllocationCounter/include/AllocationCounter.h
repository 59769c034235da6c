#ifndef CHANCERY_ALLOCATION_COUNTER_H
#define CHANCERY_ALLOCATION_COUNTER_H

#include <stdint.h>

/// Heap allocations (malloc, calloc, realloc, posix_memalign, aligned_alloc, memalign)
/// made by this process since it started, and the bytes they asked for. Linked only
/// into benchmark executables: it replaces the C allocator's entry points there.
uint64_t chancery_allocation_count(void);
uint64_t chancery_allocated_bytes(void);

#endif
