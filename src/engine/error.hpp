// Typed engine errors. The PostgreSQL glue maps each kind to a SQLSTATE (src/pg/boundary.cpp).
#pragma once
#include "engine/engine_only.hpp"

#include <stdexcept>
#include <string>

namespace dendrite::engine {

enum class ErrorKind {
    InvalidParameter,  // 22023
    Data,              // 22000
    OutOfMemory,       // 53200
    NotSupported,      // 0A000
    Canceled,          // 57014 (the glue re-raises PostgreSQL's own cancel/timeout error)
    Internal,          // XX000
};

class Error : public std::runtime_error {
public:
    Error(ErrorKind kind, const std::string& message, std::string detail = {}, std::string hint = {})
        : std::runtime_error(message), kind_(kind), detail_(std::move(detail)), hint_(std::move(hint)) {}

    ErrorKind kind() const noexcept { return kind_; }
    const std::string& detail() const noexcept { return detail_; }
    const std::string& hint() const noexcept { return hint_; }

private:
    ErrorKind kind_;
    std::string detail_;
    std::string hint_;
};

[[noreturn]] inline void fail(ErrorKind kind, const std::string& message, std::string detail = {},
                              std::string hint = {}) {
    throw Error(kind, message, std::move(detail), std::move(hint));
}

}  // namespace dendrite::engine
