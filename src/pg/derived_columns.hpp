// Derived columns: SQL expressions over a row's columns that a featurizer declares (create_featurizer's
// `derived`) and reads like columns of the row. Compiled by PostgreSQL's own parser and executor, once per
// row type, and evaluated per row by the row binding (row_binding.hpp): the same code offline (fitting,
// train, featurize, score_query) and inline (features, score, the guards).
#pragma once

#include "pg/postgres_headers.hpp"

namespace dendrite::pg {

// A featurizer's derived columns, and whose rights compile them.
struct DerivedDeclarations {
    int n;
    char** names;
    char** expressions;
    // A stored featurizer's are its author's code: parsed (names resolved, functions checked for EXECUTE)
    // as its owner with its stored search_path, as its history query runs. InvalidOid: the caller, now.
    Oid compile_role;
    const char* search_path;
};

// Parses and analyses one derived column's expression over rows of descriptor, as PostgreSQL analyses a
// generated column's (no subquery, aggregate, window or set-returning function; immutable functions only).
// Bare column names are the row's columns. It may call only functions that come with PostgreSQL or with
// dendrite: it runs wherever the row is featurized, a guard on another role's insert included, and no
// user's code may run there with someone else's rights. Errors name the featurizer and the derived column
// (42703 unknown column, 42P17 a mutable or user-defined function, 42804 a type a featurizer cannot read).
Expr* analyse_derived_column(const char* featurizer, const char* column, const char* expression, TupleDesc descriptor);

// The same, then planned and initialised for evaluation in estate (with the declarations' rights).
ExprState* compile_derived_column(const DerivedDeclarations& declarations, int index, const char* featurizer,
                                  TupleDesc descriptor, EState* estate, Oid* result_type);

}  // namespace dendrite::pg
