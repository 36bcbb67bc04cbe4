// A struct in PostgreSQL's shared memory, found or created by name (training progress, the shared history's
// ring). With dendrite in shared_preload_libraries its space was requested at start-up; otherwise it comes from
// the spare shared memory PostgreSQL keeps, and when that is used up the caller does without (nullptr: the
// error is dropped on purpose, and the caller says what that costs).
#pragma once

#include "pg/postgres_headers.hpp"

extern "C" {
#include "storage/lwlock.h"
#include "storage/shmem.h"
}

namespace dendrite::pg {

// initialize(area) runs once, by the first backend to attach, under AddinShmemInitLock.
template <typename T, typename Initialize>
T* attach_shared_struct(const char* name, Size size, Initialize initialize) {
    MemoryContext context = CurrentMemoryContext;
    T* volatile attached = nullptr;
    PG_TRY();
    {
        bool found;
        LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
        T* area = static_cast<T*>(ShmemInitStruct(name, size, &found));
        if (!found) initialize(area);
        LWLockRelease(AddinShmemInitLock);
        attached = area;
    }
    PG_CATCH();
    {
        MemoryContextSwitchTo(context);
        FlushErrorState();
        LWLockReleaseAll();
        attached = nullptr;
    }
    PG_END_TRY();
    return attached;
}

}  // namespace dendrite::pg
