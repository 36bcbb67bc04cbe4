#include "pg/row_binding.hpp"  // engine headers first

#include "pg/boundary.hpp"
#include "pg/catalog.hpp"
#include "pg/derived_columns.hpp"

extern "C" {
#include "access/transam.h"
#include "catalog/dependency.h"
#include "catalog/partition.h"
#include "common/hashfn.h"
#include "catalog/pg_proc.h"
#include "executor/executor.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_collate.h"
#include "parser/parse_expr.h"
#include "parser/parse_node.h"
#include "parser/parser.h"
#include "utils/lsyscache.h"
#include "utils/date.h"
#include "utils/float.h"
#include "utils/regproc.h"
#include "utils/typcache.h"
#include "utils/timestamp.h"
}

#include <algorithm>
#include <cmath>

namespace dendrite::pg {

namespace {

struct AnalysisContext {
    const char* featurizer;
    const char* column;
    const char* source;  // "SELECT " + the expression: what the parser's positions point into
};

// Errors point into the expression, not into the statement the client sent.
void derived_column_error_context(void* argument) {
    const auto* context = static_cast<const AnalysisContext*>(argument);
    const int position = geterrposition();
    if (position > 0 && context->source[0]) {
        errposition(0);
        internalerrposition(position);
        internalerrquery(context->source);
    }
    errcontext("derived column \"%s\" of featurizer \"%s\"", context->column, context->featurizer);
}

// A bare column name is the row's column of that name (the row is the expression's only relation, varno 1,
// as in a generated column's expression); anything else is left to the parser, which then reports it.
Node* row_column_reference(ParseState* parse_state, ColumnRef* reference) {
    if (list_length(reference->fields) != 1 || !IsA(linitial(reference->fields), String)) return nullptr;
    const char* name = strVal(linitial(reference->fields));
    auto descriptor = static_cast<TupleDesc>(parse_state->p_ref_hook_state);
    for (int i = 0; i < descriptor->natts; ++i) {
        Form_pg_attribute attribute = TupleDescAttr(descriptor, i);
        if (attribute->attisdropped || strcmp(NameStr(attribute->attname), name) != 0) continue;
        Var* var = makeVar(1, AttrNumber(i + 1), attribute->atttypid, attribute->atttypmod, attribute->attcollation, 0);
        var->location = reference->location;
        return reinterpret_cast<Node*>(var);
    }
    return nullptr;
}

// Functions that come with PostgreSQL (OIDs below FirstNormalObjectId) or belong to the dendrite extension.
bool function_is_user_code(Oid function, void* found) {
    if (function < FirstNormalObjectId) return false;
    if (getExtensionOfObject(ProcedureRelationId, function) == extension_oid()) return false;
    *static_cast<Oid*>(found) = function;
    return true;
}

bool find_user_code(Node* node, void* found) {
    if (!node) return false;
    if (check_functions_in_node(node, function_is_user_code, found)) return true;
    if (IsA(node, CoerceToDomain)) {  // a domain's CHECK constraints are its author's expressions
        *static_cast<Oid*>(found) = InvalidOid;
        return true;
    }
    // PostgreSQL 15 declares the walker as bool (*)(): through void (*)() the cast says so on purpose.
    return expression_tree_walker(node, reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)()>(find_user_code)),
                                  found);
}

}  // namespace

Expr* analyse_derived_column(const char* featurizer, const char* column, const char* expression, TupleDesc descriptor) {
    AnalysisContext context{featurizer, column, psprintf("SELECT %s", expression)};
    ErrorContextCallback callback;
    callback.callback = derived_column_error_context;
    callback.arg = &context;
    callback.previous = error_context_stack;
    error_context_stack = &callback;

    // One expression: a single SELECT of one target and nothing else (no FROM, WHERE, set operation, ...).
    List* statements = raw_parser(context.source, RAW_PARSE_DEFAULT);
    const RawStmt* raw = list_length(statements) == 1 ? linitial_node(RawStmt, statements) : nullptr;
    const auto* select = raw && IsA(raw->stmt, SelectStmt) ? reinterpret_cast<const SelectStmt*>(raw->stmt) : nullptr;
    if (!select || select->op != SETOP_NONE || list_length(select->targetList) != 1 || select->fromClause ||
        select->whereClause || select->groupClause || select->havingClause || select->windowClause ||
        select->sortClause || select->limitCount || select->limitOffset || select->lockingClause ||
        select->withClause || select->distinctClause || select->intoClause || select->valuesLists ||
        linitial_node(ResTarget, select->targetList)->name)
        ereport(ERROR, (errcode(ERRCODE_SYNTAX_ERROR), errmsg("a derived column must be a single SQL expression"),
                        errhint("Write an expression over the row's columns, such as amount / 100.")));

    ParseState* parse_state = make_parsestate(nullptr);
    parse_state->p_sourcetext = context.source;
    parse_state->p_pre_columnref_hook = row_column_reference;
    parse_state->p_ref_hook_state = descriptor;
    // Analysed as a generated column's expression: no subquery, aggregate, window or set-returning function.
    Node* analysed =
        transformExpr(parse_state, linitial_node(ResTarget, select->targetList)->val, EXPR_KIND_GENERATED_COLUMN);
    assign_expr_collations(parse_state, analysed);
    free_parsestate(parse_state);

    if (contain_mutable_functions(analysed))
        ereport(ERROR, (errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
                        errmsg("functions in a derived column must be marked IMMUTABLE"),
                        errhint("A derived column is computed again whenever the row is scored and must give the "
                                "same value. Time zones make casts of dates to timestamptz STABLE: "
                                "dendrite.age_years(date, timestamptz) computes an age in UTC.")));
    Oid user_function = InvalidOid;
    if (find_user_code(analysed, &user_function))
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
                 OidIsValid(user_function)
                     ? errmsg("a derived column may not call %s, which neither PostgreSQL nor dendrite provides",
                              format_procedure(user_function))
                     : errmsg("a derived column may not produce a domain type"),
                 errdetail("A derived column is computed wherever the row is scored, in a guard on another role's "
                           "insert too, where no user's code may run with someone else's rights."),
                 errhint("Compute it in a stored generated column of the table instead: guards compute those as "
                         "PostgreSQL will store them.")));
    const Oid type = getBaseType(exprType(analysed));
    if (type_class(type) == engine::SqlTypeClass::Other)
        ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
                        errmsg("derived column has type %s, which a featurizer cannot read", format_type_be(type)),
                        errhint("Cast it to a number, text, boolean or timestamp; extract(epoch FROM ...) turns an "
                                "interval into seconds.")));
    error_context_stack = callback.previous;
    return reinterpret_cast<Expr*>(analysed);
}

ExprState* compile_derived_column(const DerivedDeclarations& declarations, int index, const char* featurizer,
                                  TupleDesc descriptor, EState* estate, Oid* result_type) {
    ExprState* state = nullptr;
    // Planning folds constants: 1 / 0 fails here, and says where.
    AnalysisContext context{featurizer, declarations.names[index], ""};
    ErrorContextCallback callback{error_context_stack, derived_column_error_context, &context};
    auto compile = [&] {
        Expr* analysed =
            analyse_derived_column(featurizer, declarations.names[index], declarations.expressions[index], descriptor);
        *result_type = getBaseType(exprType(reinterpret_cast<Node*>(analysed)));
        error_context_stack = &callback;
        state = ExecPrepareExpr(analysed, estate);  // planned (constants folded) and its EXECUTE rights checked
        error_context_stack = callback.previous;
    };
    if (OidIsValid(declarations.compile_role))
        with_role_rights(declarations.compile_role, declarations.search_path, compile);
    else
        compile();
    return state;
}

}  // namespace dendrite::pg

using namespace dendrite;
using namespace dendrite::pg;

// Immutable helpers for derived columns (and generated columns): no time zone, no catalog lookups.

namespace {

// A coordinate distance_km cannot place: a latitude beyond +-90 or a longitude beyond +-180 degrees (infinite
// ones too) is bad data or arguments in the wrong order (a longitude of -122 read as a latitude), never a
// distance. NaN passes: it gives NaN, as PostgreSQL's float arithmetic does, and a featurizer's nonfinite
// rule then decides (an error by default).
void check_coordinate(double degrees, double limit, const char* what, int argument) {
    if (std::isnan(degrees) || std::fabs(degrees) <= limit) return;
    ereport(ERROR, (errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
                    errmsg("dendrite.distance_km: %s %g (argument %d) is out of range [-%g, %g]", what, degrees,
                           argument, limit, limit),
                    errhint("The arguments are lat1, lon1, lat2, lon2, in degrees: latitude first.")));
}

}  // namespace

// The great-circle distance in km between two points given in degrees (haversine, mean Earth radius).
DENDRITE_FUNCTION(dendrite_distance_km) {
    constexpr double kEarthRadiusKm = 6371.0088;
    constexpr double kRadiansPerDegree = M_PI / 180.0;
    const double lat1 = PG_GETARG_FLOAT8(0), lon1 = PG_GETARG_FLOAT8(1);
    const double lat2 = PG_GETARG_FLOAT8(2), lon2 = PG_GETARG_FLOAT8(3);
    check_coordinate(lat1, 90, "latitude", 1);
    check_coordinate(lon1, 180, "longitude", 2);
    check_coordinate(lat2, 90, "latitude", 3);
    check_coordinate(lon2, 180, "longitude", 4);
    // std::min below would turn a NaN into the largest distance (half the Earth round).
    if (std::isnan(lat1) || std::isnan(lon1) || std::isnan(lat2) || std::isnan(lon2))
        PG_RETURN_FLOAT8(get_float8_nan());
    // Differences in degrees first: the same point is exactly 0 km even where the compiler fuses a
    // multiplication into the subtraction.
    const double half_dlat = (lat2 - lat1) * kRadiansPerDegree / 2, half_dlon = (lon2 - lon1) * kRadiansPerDegree / 2;
    const double half_chord = std::sin(half_dlat) * std::sin(half_dlat) + std::cos(lat1 * kRadiansPerDegree) *
                                                                              std::cos(lat2 * kRadiansPerDegree) *
                                                                              std::sin(half_dlon) * std::sin(half_dlon);
    PG_RETURN_FLOAT8(2 * kEarthRadiusKm * std::asin(std::sqrt(std::min(1.0, half_chord))));
}

namespace {

// Years (of 365.25 days) from midnight UTC of born to at (microseconds since 2000-01-01 UTC); NULL when
// either is infinite.
Datum years_since_birth(FunctionCallInfo fcinfo, DateADT born, int64 at) {
    if (DATE_NOT_FINITE(born) || TIMESTAMP_NOT_FINITE(at)) PG_RETURN_NULL();
    constexpr double kMicrosPerYear = 365.25 * double(USECS_PER_DAY);
    PG_RETURN_FLOAT8(double(at - int64(born) * USECS_PER_DAY) / kMicrosPerYear);
}

}  // namespace

DENDRITE_FUNCTION(dendrite_age_years) {
    return years_since_birth(fcinfo, PG_GETARG_DATEADT(0), PG_GETARG_TIMESTAMP(1));
}

DENDRITE_FUNCTION(dendrite_age_years_tz) {
    return years_since_birth(fcinfo, PG_GETARG_DATEADT(0), PG_GETARG_TIMESTAMPTZ(1));
}

// The shard a row with this key lands on in a table hash-partitioned on that one column into `shards`
// partitions of modulus `shards` (docs/scaleout.md): PostgreSQL's own routing (the type's extended hash with
// the partition seed, combined as for a one-column key), so a derived column or a history declaration's
// "within": "shard" agrees with where postgres_fdw's partitions put the row. A NULL key routes to shard 0.
DENDRITE_FUNCTION(dendrite_shard_of) {
    if (PG_ARGISNULL(1)) PG_RETURN_NULL();
    const int32 shards = PG_GETARG_INT32(1);
    if (shards < 1)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("shards must be positive, got %d", shards)));
    if (PG_ARGISNULL(0)) PG_RETURN_INT32(0);
    auto* hash = static_cast<FmgrInfo*>(fcinfo->flinfo->fn_extra);
    if (!hash) {
        const Oid type = get_fn_expr_argtype(fcinfo->flinfo, 0);
        if (!OidIsValid(type))
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("could not determine the key's type")));
        TypeCacheEntry* entry = lookup_type_cache(type, TYPECACHE_HASH_EXTENDED_PROC_FINFO);
        if (!OidIsValid(entry->hash_extended_proc))
            ereport(ERROR,
                    (errcode(ERRCODE_UNDEFINED_FUNCTION),
                     errmsg("type %s has no extended hash function", format_type_be(type)),
                     errhint("A hash-partitioned table's key has one: use the column the table is partitioned on.")));
        hash = static_cast<FmgrInfo*>(MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(FmgrInfo)));
        fmgr_info_copy(hash, &entry->hash_extended_proc_finfo, fcinfo->flinfo->fn_mcxt);
        fcinfo->flinfo->fn_extra = hash;
    }
    const Datum key_hash =
        FunctionCall2Coll(hash, PG_GET_COLLATION(), PG_GETARG_DATUM(0), UInt64GetDatum(HASH_PARTITION_SEED));
    const uint64 row_hash = hash_combine64(0, DatumGetUInt64(key_hash));
    PG_RETURN_INT32(int32(row_hash % uint64(shards)));
}
