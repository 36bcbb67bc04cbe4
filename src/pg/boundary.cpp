#include "pg/boundary.hpp"

#include <cstring>
#include <new>

extern "C" {
#include "utils/lsyscache.h"
}

namespace dendrite::pg {

namespace {

// The captured error lives in static buffers: copying it must not allocate (an allocation failure inside
// a catch block could longjmp out of it).
struct CapturedError {
    engine::ErrorKind kind = engine::ErrorKind::Internal;
    ErrorData* postgres = nullptr;  // set when the exception was a PgError
    char message[1024];
    char detail[1024];
    char hint[512];
};
CapturedError captured;

void copy_text(char* destination, size_t size, const char* source) {
    std::strncpy(destination, source ? source : "", size - 1);
    destination[size - 1] = '\0';
}

int sqlstate_of(engine::ErrorKind kind) {
    switch (kind) {
        case engine::ErrorKind::InvalidParameter:
            return ERRCODE_INVALID_PARAMETER_VALUE;
        case engine::ErrorKind::Data:
            return ERRCODE_DATA_EXCEPTION;
        case engine::ErrorKind::OutOfMemory:
            return ERRCODE_OUT_OF_MEMORY;
        case engine::ErrorKind::NotSupported:
            return ERRCODE_FEATURE_NOT_SUPPORTED;
        case engine::ErrorKind::Canceled:
            return ERRCODE_QUERY_CANCELED;
        case engine::ErrorKind::Internal:
            return ERRCODE_INTERNAL_ERROR;
    }
    return ERRCODE_INTERNAL_ERROR;
}

}  // namespace

void capture_current_exception() noexcept {
    captured.postgres = nullptr;
    captured.detail[0] = captured.hint[0] = '\0';
    try {
        throw;
    } catch (const PgError& e) {
        captured.postgres = e.data();
    } catch (const engine::Error& e) {
        captured.kind = e.kind();
        copy_text(captured.message, sizeof captured.message, e.what());
        copy_text(captured.detail, sizeof captured.detail, e.detail().c_str());
        copy_text(captured.hint, sizeof captured.hint, e.hint().c_str());
    } catch (const std::bad_alloc&) {
        captured.kind = engine::ErrorKind::OutOfMemory;
        copy_text(captured.message, sizeof captured.message, "out of memory");
        copy_text(captured.detail, sizeof captured.detail, "The dendrite engine could not allocate memory.");
    } catch (const std::exception& e) {
        captured.kind = engine::ErrorKind::Internal;
        copy_text(captured.message, sizeof captured.message, "internal error in the dendrite engine");
        copy_text(captured.detail, sizeof captured.detail, e.what());
    } catch (...) {
        captured.kind = engine::ErrorKind::Internal;
        copy_text(captured.message, sizeof captured.message, "internal error in the dendrite engine");
        copy_text(captured.detail, sizeof captured.detail, "An exception of unknown type was thrown.");
    }
}

void raise_captured() {
    if (captured.postgres) {
        ErrorData* error = captured.postgres;
        captured.postgres = nullptr;
        ReThrowError(error);
    }
    if (captured.kind == engine::ErrorKind::Canceled) {
        // The engine stopped because a cancel or a statement_timeout is pending: let PostgreSQL raise its
        // own error for it (57014 with the usual message), now that no C++ frame is left to unwind.
        CHECK_FOR_INTERRUPTS();
    }
    ereport(ERROR, (errcode(sqlstate_of(captured.kind)), errmsg("%s", captured.message),
                    captured.detail[0] ? errdetail("%s", captured.detail) : 0,
                    captured.hint[0] ? errhint("%s", captured.hint) : 0));
    pg_unreachable();
}

Datum call_guarded(Implementation implementation, FunctionCallInfo fcinfo) {
    // pg_duckdb's sanity check: PostgreSQL's stack of error handlers (and of error context callbacks) must
    // be where it was when the function returns or throws. A PG_TRY left by a C++ exception or a return
    // would leave PG_exception_stack pointing into a dead frame, and the next ERROR would jump there: put
    // them back and raise an internal error instead of crashing later.
    sigjmp_buf* const exception_stack = PG_exception_stack;
    ErrorContextCallback* const context_stack = error_context_stack;
    bool failed = false;
    Datum result = (Datum)0;
    try {
        result = implementation(fcinfo);
    } catch (...) {
        capture_current_exception();
        failed = true;
    }
    if (PG_exception_stack != exception_stack || error_context_stack != context_stack) {
        PG_exception_stack = exception_stack;
        error_context_stack = context_stack;
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                        errmsg("dendrite function %s left PostgreSQL's error handler stack unbalanced",
                               fcinfo->flinfo ? get_func_name(fcinfo->flinfo->fn_oid) : "?"),
                        errhint("This is a bug in dendrite; please report it.")));
    }
    if (failed) raise_captured();
    return result;
}

void* palloc_or_throw(size_t size) {
    if (!AllocHugeSizeIsValid(size)) throw std::bad_alloc();  // would be an ERROR, i.e. a longjmp
    void* memory = MemoryContextAllocExtended(CurrentMemoryContext, size, MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
    if (!memory) throw std::bad_alloc();
    return memory;
}

char* pstrdup_or_throw(const std::string& text) {
    auto* copy = static_cast<char*>(palloc_or_throw(text.size() + 1));
    memcpy(copy, text.c_str(), text.size() + 1);
    return copy;
}

}  // namespace dendrite::pg
