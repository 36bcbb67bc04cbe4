// The C++ / PostgreSQL error boundary (see README, "The rule at the boundary").
//
//  * Every SQL entry point is defined with DENDRITE_FUNCTION, which runs its body under call_guarded():
//    no C++ exception ever leaves a function that PostgreSQL calls.
//  * Engine work runs inside engine_call(): exceptions are caught there, the message is copied into
//    static buffers, the catch scope is left, and only then is the PostgreSQL error raised, with a SQLSTATE
//    that follows the engine error's kind.
//  * PostgreSQL code called from inside C++ frames that own resources (engine callbacks) runs inside
//    pg_guard(), which turns an ereport longjmp into a PgError exception that unwinds the C++ frames and is
//    re-thrown as the original PostgreSQL error at the boundary.
//  * Glue code outside engine_call owns no object with a destructor: palloc'd memory and PostgreSQL
//    structures only, so an ereport longjmp through it loses nothing.
#pragma once

#include <exception>
#include <string>
#include <utility>

#include "engine/error.hpp"
#include "pg/postgres_headers.hpp"

namespace dendrite::pg {

// A PostgreSQL error carried through C++ frames as an exception.
class PgError : public std::exception {
public:
    explicit PgError(ErrorData* data) : data_(data) {}
    ErrorData* data() const noexcept { return data_; }
    const char* what() const noexcept override { return data_ && data_->message ? data_->message : "postgres error"; }

private:
    ErrorData* data_;
};

// Records the exception being handled (call only inside a catch block; allocates nothing).
void capture_current_exception() noexcept;
// Raises the recorded error as a PostgreSQL ERROR (call outside any catch block).
[[noreturn]] void raise_captured();

template <typename F>
void engine_call(F&& work) {
    bool failed = false;
    try {
        work();
    } catch (...) {
        capture_current_exception();
        failed = true;
    }
    if (failed) raise_captured();
}

using Implementation = Datum (*)(FunctionCallInfo);
Datum call_guarded(Implementation implementation, FunctionCallInfo fcinfo);

template <typename F>
void pg_guard(F&& work) {
    MemoryContext context = CurrentMemoryContext;
    ErrorData* volatile error = nullptr;
    std::exception_ptr cpp_exception;  // never thrown through PG_TRY: rethrown after PG_END_TRY
    PG_TRY();
    {
        try {
            work();
        } catch (...) {
            cpp_exception = std::current_exception();
        }
    }
    PG_CATCH();
    {
        MemoryContextSwitchTo(context);
        error = CopyErrorData();
        FlushErrorState();
    }
    PG_END_TRY();
    if (error) throw PgError(error);
    if (cpp_exception) std::rethrow_exception(cpp_exception);
}

// Ties an engine object's lifetime to a memory context: deleted when the context is reset or deleted (an
// error's cleanup included). A destructor's exception is swallowed: none may reach PostgreSQL.
template <typename T>
void delete_engine_object(void* object) {
    try {
        delete static_cast<T*>(object);
    } catch (...) {
    }
}
// The reset callback that will own an engine object, allocated in context (which may raise: before the
// object exists), and armed with the object once it does.
inline MemoryContextCallback* owner_callback(MemoryContext context) {
    return static_cast<MemoryContextCallback*>(MemoryContextAllocZero(context, sizeof(MemoryContextCallback)));
}
template <typename T>
void arm_owner(MemoryContext context, MemoryContextCallback* callback, T* object) {
    callback->func = delete_engine_object<T>;
    callback->arg = object;
    MemoryContextRegisterResetCallback(context, callback);
}
template <typename T>
void own_in_context(MemoryContext context, T* object) {
    arm_owner(context, owner_callback(context), object);
}

// Creates an engine object inside the error boundary (create returns it, made with new) and ties it to
// context as own_in_context does. The callback is allocated first, so no error can come between the object's
// creation and its owner.
template <typename T, typename F>
T* create_owned(MemoryContext context, F&& create) {
    MemoryContextCallback* callback = owner_callback(context);
    T* object = nullptr;
    engine_call([&] { object = create(); });
    arm_owner(context, callback, object);
    return object;
}

// Allocates size bytes in the current memory context, or throws std::bad_alloc (never longjmps): for
// use inside engine_call.
void* palloc_or_throw(size_t size);
// A copy of text in the current memory context, the same way.
char* pstrdup_or_throw(const std::string& text);

}  // namespace dendrite::pg

// Defines a SQL-callable function whose body runs under the error boundary.
#define DENDRITE_FUNCTION(name)                                                              \
    static Datum name##_body(FunctionCallInfo fcinfo);                                       \
    extern "C" {                                                                             \
    PG_FUNCTION_INFO_V1(name);                                                               \
    }                                                                                        \
    Datum name(PG_FUNCTION_ARGS) { return dendrite::pg::call_guarded(name##_body, fcinfo); } \
    static Datum name##_body(FunctionCallInfo fcinfo)
