#include "pg/row_binding.hpp"

#include <cstring>

#include <sys/socket.h>  // AF_INET, behind PGSQL_AF_INET

#include "pg/boundary.hpp"
#include "pg/derived_columns.hpp"
#include "pg/values.hpp"

extern "C" {
#include "executor/executor.h"
#include "optimizer/optimizer.h"
#include "rewrite/rewriteHandler.h"
#include "utils/date.h"
#include "utils/inet.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/rel.h"
}

namespace dendrite::pg {

engine::SqlTypeClass type_class(Oid type) {
    switch (type) {
        case INT2OID:
        case INT4OID:
        case INT8OID:
            return engine::SqlTypeClass::Integer;
        case FLOAT4OID:
        case FLOAT8OID:
        case NUMERICOID:
            return engine::SqlTypeClass::Number;
        case BOOLOID:
            return engine::SqlTypeClass::Boolean;
        case TEXTOID:
        case VARCHAROID:
        case BPCHAROID:
        case NAMEOID:
            return engine::SqlTypeClass::Text;
        case TIMESTAMPOID:
        case TIMESTAMPTZOID:
        case DATEOID:
            return engine::SqlTypeClass::Timestamp;
        case INETOID:
        case CIDROID:
            return engine::SqlTypeClass::Inet;
        default:
            return engine::SqlTypeClass::Other;
    }
}

const char* type_class_name(engine::SqlTypeClass type) {
    switch (type) {
        case engine::SqlTypeClass::Number:
            return "number";
        case engine::SqlTypeClass::Integer:
            return "integer";
        case engine::SqlTypeClass::Boolean:
            return "boolean";
        case engine::SqlTypeClass::Text:
            return "text";
        case engine::SqlTypeClass::Timestamp:
            return "timestamp";
        case engine::SqlTypeClass::Inet:
            return "inet";
        case engine::SqlTypeClass::Other:
            return "other";
    }
    return "other";
}

const char* fitted_type_name(Oid base_type) {
    switch (base_type) {
        case TIMESTAMPOID:
            return "timestamp without time zone";
        case TIMESTAMPTZOID:
            return "timestamp with time zone";
        case DATEOID:
            return "date";
        default:
            return type_class_name(type_class(base_type));
    }
}

Oid time_type_named(const char* name) {
    for (Oid type : {TIMESTAMPOID, TIMESTAMPTZOID, DATEOID})
        if (strcmp(name, fitted_type_name(type)) == 0) return type;
    return InvalidOid;
}

void bind_row(RowBinding* binding, const CachedFeaturizer* featurizer, TupleDesc descriptor, MemoryContext context) {
    bool labels_feed_history = false;
    for (const auto& h : featurizer->featurizer->spec().all_history()) labels_feed_history |= !h.label.empty();
    bind_inputs(binding, featurizer->n_inputs, featurizer->input_names, featurizer->input_types,
                featurizer->input_optional, &featurizer->derived, featurizer->name, featurizer->version, descriptor,
                context, labels_feed_history, featurizer->input_time_types);
    bool* never_missing = nullptr;
    for (int j = 0; j < binding->n_inputs; ++j)
        if (featurizer->featurizer->input_never_missing(size_t(j))) {
            if (!never_missing)
                never_missing =
                    static_cast<bool*>(MemoryContextAllocZero(context, sizeof(bool) * size_t(binding->n_inputs)));
            never_missing[j] = true;
        }
    binding->never_missing = never_missing;
    binding->missing_noted = false;
    binding->featurizer_name = MemoryContextStrdup(context, featurizer->name);
    if (never_missing) {
        char** names = static_cast<char**>(MemoryContextAlloc(context, sizeof(char*) * size_t(binding->n_inputs)));
        for (int j = 0; j < binding->n_inputs; ++j) names[j] = MemoryContextStrdup(context, featurizer->input_names[j]);
        binding->input_names = names;
    }
    restart_unseen_category_notes(binding, featurizer->featurizer);
}

void note_unseen_category_slow(RowBinding* binding, const engine::Featurizer* featurizer) {
    binding->unseen_categories_seen = featurizer->unseen_category_rows();
    if (binding->unseen_category_noted) return;
    binding->unseen_category_noted = true;
    const engine::FittedColumn* fitted = featurizer->last_unseen_category_column();
    if (!fitted) return;
    const bool one_hot = fitted->spec.encoding == engine::CategoricalEncoding::OneHot;
    ereport(NOTICE,
            (errmsg("column \"%s\" has a category that featurizer \"%s\" never saw in it when fitted",
                    fitted->spec.name.c_str(), binding->featurizer_name),
             errdetail("%s Said once a statement.",
                       one_hot ? "Every fitting row had one of its categories, so \"__other__\" had no row: the row is "
                                 "scored as none of the known categories, an input the model was not trained on."
                               : "Every fitting row had one of its categories: the row is scored as if the column were "
                                 "NULL, an input the model was not trained on for it."),
             errhint("Fit the featurizer on rows that have the new categories, or keep fewer categories (top_k, "
                     "max_categories) so that the rare ones teach the model what an unknown category means.")));
}

namespace {

// The first NULL of a binding's statement in an input its featurizer never saw NULL in: imputed, it is a value the
// model was not trained on, which must not pass without a word (once: a NOTICE per row would drown a bulk load).
void note_unseen_missing(RowBinding* binding, int input) {
    binding->missing_noted = true;
    ereport(NOTICE,
            (errmsg("column \"%s\" is NULL, which featurizer \"%s\" never saw in it when fitted",
                    binding->input_names[input], binding->featurizer_name),
             errdetail("The NULL is imputed as a missing value (a number as its fitted mean, a category as none, a "
                       "time as zeros): a value the model was not trained on. Said once a statement."),
             errhint("Filter such rows out, or fit the featurizer on rows with NULLs there: it then gives the "
                     "column a missing indicator.")));
}

}  // namespace

// The derived columns a binding evaluates per row, into values[natts + k].
struct DerivedInputs {
    int n;
    const char** names;  // for the error context
    int* value_index;    // natts + k
    ExprState** expressions;
    EState* estate;          // its per-tuple context holds the computed values until the next row
    TupleTableSlot* slot;    // the row, for a tuple (load_row)
    const char* featurizer;  // for the error context
};

namespace {

// Compiles the derived declaration behind input j (in context), returning its base type.
Oid bind_derived_input(RowBinding* binding, const DerivedDeclarations& declarations, int declaration,
                       const char* featurizer, MemoryContext context) {
    MemoryContext old = MemoryContextSwitchTo(context);
    DerivedInputs* derived = binding->derived;
    if (!derived) {
        derived = static_cast<DerivedInputs*>(palloc0(sizeof(DerivedInputs)));
        derived->names = static_cast<const char**>(palloc(sizeof(char*) * (declarations.n + 1)));
        derived->value_index = static_cast<int*>(palloc(sizeof(int) * (declarations.n + 1)));
        derived->expressions = static_cast<ExprState**>(palloc(sizeof(ExprState*) * (declarations.n + 1)));
        derived->estate = CreateExecutorState();  // its memory is a child of context
        derived->slot = MakeSingleTupleTableSlot(binding->descriptor, &TTSOpsVirtual);
        derived->featurizer = pstrdup(featurizer);
        binding->derived = derived;
    }
    Oid type = InvalidOid;
    derived->expressions[derived->n] =
        compile_derived_column(declarations, declaration, featurizer, binding->descriptor, derived->estate, &type);
    derived->names[derived->n] = declarations.names[declaration];
    derived->value_index[derived->n] = binding->descriptor->natts + declaration;
    ++derived->n;
    MemoryContextSwitchTo(old);
    return type;
}

}  // namespace

void bind_inputs(RowBinding* binding, int n_inputs, char* const* names, const engine::SqlTypeClass* fitted_types,
                 const bool* optional, const DerivedDeclarations* derived, const char* owner, int version,
                 TupleDesc descriptor, MemoryContext context, bool labels_feed_history, const Oid* fitted_time_types) {
    const int n_derived = derived ? derived->n : 0;
    MemoryContext old = MemoryContextSwitchTo(context);
    binding->descriptor = CreateTupleDescCopy(descriptor);
    binding->row_type = descriptor->tdtypeid;
    binding->row_typmod = descriptor->tdtypmod;
    binding->n_inputs = n_inputs;
    binding->attnums = static_cast<int*>(palloc(sizeof(int) * (n_inputs + 1)));
    binding->types = static_cast<Oid*>(palloc(sizeof(Oid) * (n_inputs + 1)));
    binding->values = static_cast<Datum*>(palloc(sizeof(Datum) * (descriptor->natts + n_derived + 1)));
    binding->nulls = static_cast<bool*>(palloc(sizeof(bool) * (descriptor->natts + n_derived + 1)));
    binding->raw = static_cast<engine::RawValue*>(palloc0(sizeof(engine::RawValue) * (n_inputs + 1)));
    binding->generated = nullptr;
    binding->derived = nullptr;
    binding->loaded_values = nullptr;
    binding->loaded_nulls = nullptr;
    MemoryContextSwitchTo(old);
    for (int j = 0; j < n_inputs; ++j) {
        const char* name = names[j];
        int found = -1;
        Oid type = InvalidOid;
        // A derived column is the featurizer's, whatever the row holds under that name.
        for (int k = 0; k < n_derived && found < 0; ++k)
            if (strcmp(derived->names[k], name) == 0) {
                type = bind_derived_input(binding, *derived, k, owner, context);
                found = descriptor->natts + k;
            }
        if (found < 0) {
            // By name: SELECT amount, -amount AS amount is 42701, not the first amount read without a word.
            const char* detail = psprintf("Featurizer \"%s\" reads it by name.", owner);
            found = unique_column_number(descriptor, name, "column", "the row", detail) - 1;
        }
        if (found < 0 && optional && optional[j]) {
            binding->attnums[j] = -1;
            binding->types[j] = InvalidOid;
            continue;
        }
        if (found < 0) {
            StringInfoData required;
            initStringInfo(&required);
            for (int k = 0; k < n_inputs; ++k)
                if (!optional || !optional[k]) appendStringInfo(&required, "%s%s", required.len ? ", " : "", names[k]);
            ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
                            errmsg("column \"%s\" required by featurizer \"%s\" is missing from the row", name, owner),
                            errdetail("Version %d of the featurizer reads the columns %s.", version, required.data)));
        }
        if (!OidIsValid(type)) type = getBaseType(TupleDescAttr(descriptor, found)->atttypid);
        binding->attnums[j] = found;
        binding->types[j] = type;
        if (!fitted_types) continue;
        const engine::SqlTypeClass fitted = fitted_types[j];
        const engine::SqlTypeClass now = type_class(type);
        // Integers may stand in for numbers (and the reverse); anything else is a changed column.
        const bool numeric_both = (fitted == engine::SqlTypeClass::Number || fitted == engine::SqlTypeClass::Integer) &&
                                  (now == engine::SqlTypeClass::Number || now == engine::SqlTypeClass::Integer);
        if (now != fitted && !numeric_both && optional && optional[j]) {
            // A label is no feature: it is read as 1, 0 or unknown, and a boolean, an integer or a number says
            // that alike (a table's fraud flag may be 0/1 where the training query's was boolean). Of another
            // type, it is left unread, as for a row without it, unless history counts labels (then the
            // featurizer would learn nothing of them: an error below).
            const auto label_like = [](engine::SqlTypeClass c) {
                return c == engine::SqlTypeClass::Boolean || c == engine::SqlTypeClass::Integer ||
                       c == engine::SqlTypeClass::Number;
            };
            if (label_like(fitted) && label_like(now)) continue;
            if (!labels_feed_history) {
                binding->attnums[j] = -1;
                binding->types[j] = InvalidOid;
                continue;
            }
        }
        if (now != fitted && !numeric_both)
            ereport(
                ERROR,
                (errcode(ERRCODE_DATATYPE_MISMATCH),
                 errmsg("column \"%s\" has type %s, but featurizer \"%s\" was fitted on %s %s column", name,
                        format_type_be(found < descriptor->natts ? TupleDescAttr(descriptor, found)->atttypid : type),
                        owner, strchr("aeiou", type_class_name(fitted)[0]) ? "an" : "a", type_class_name(fitted)),
                 errhint("Cast the column back in the query, or fit a new featurizer version.")));
        // The time types share a class, not a meaning: a timestamptz where a timestamp was fitted would shift
        // every hour (and history window) by the time zone's offset, without a word.
        if (fitted_time_types && OidIsValid(fitted_time_types[j]) && fitted_time_types[j] != type)
            ereport(
                ERROR,
                (errcode(ERRCODE_DATATYPE_MISMATCH),
                 errmsg("column \"%s\" has type %s, but featurizer \"%s\" was fitted on a %s column", name,
                        format_type_be(found < descriptor->natts ? TupleDescAttr(descriptor, found)->atttypid : type),
                        owner, fitted_type_name(fitted_time_types[j])),
                 errdetail("A timestamp with time zone is an instant (its hour and weekday are UTC's), a timestamp "
                           "without time zone a wall-clock reading, a date a day: the features would differ."),
                 errhint("Cast the column back in the query (e.g. AT TIME ZONE), or fit a new featurizer version.")));
    }
}

void load_composite(RowBinding* binding, bool* bound, const CachedFeaturizer* featurizer, HeapTupleHeader row,
                    MemoryContext context) {
    const Oid type = HeapTupleHeaderGetTypeId(row);
    const int32 typmod = HeapTupleHeaderGetTypMod(row);
    if (!*bound || binding->row_type != type || binding->row_typmod != typmod) {
        TupleDesc descriptor = lookup_rowtype_tupdesc(type, typmod);
        TupleDesc copy = CreateTupleDescCopy(descriptor);
        ReleaseTupleDesc(descriptor);
        bind_row(binding, featurizer, copy, context);
        binding->row_type = type;
        binding->row_typmod = typmod;
        *bound = true;
    }
    HeapTupleData tuple;
    tuple.t_len = HeapTupleHeaderGetDatumLength(row);
    ItemPointerSetInvalid(&tuple.t_self);
    tuple.t_tableOid = InvalidOid;
    tuple.t_data = row;
    load_row(binding, &tuple);
}

namespace {

// An integral numeric that fits in 64 bits keeps its exact value (raw->exact_integer); any other stays the
// double it is.
void exact_numeric_integer(Numeric numeric, engine::RawValue* raw) {
    char* digits = numeric_normalize(numeric);  // no trailing zeros: "6011000000000000004", "1.5"
    char* end = nullptr;
    errno = 0;
    const long long integer = strtoll(digits, &end, 10);
    if (errno == 0 && end != digits && *end == '\0') {
        raw->exact_integer = true;
        raw->integer = integer;
    }
    pfree(digits);
}

void load_values(RowBinding* binding, const Datum* values, const bool* nulls) {
    binding->loaded_values = values;
    binding->loaded_nulls = nulls;
    for (int j = 0; j < binding->n_inputs; ++j) {
        const int index = binding->attnums[j];
        engine::RawValue& raw = binding->raw[j];
        if (index < 0 || nulls[index]) {
            raw = engine::RawValue::null();
            if (unlikely(index >= 0 && binding->never_missing && binding->never_missing[j] && !binding->missing_noted))
                note_unseen_missing(binding, j);
            continue;
        }
        const Datum value = values[index];
        // Numbers, by far the most common inputs, set only the fields a number reads: building a whole
        // RawValue (64 bytes) per value was a third of the time of a pass over a wide numeric table.
        double number;
        switch (binding->types[j]) {
            case FLOAT4OID:
                number = DatumGetFloat4(value);
                break;
            case FLOAT8OID:
                number = DatumGetFloat8(value);
                break;
            case INT4OID:
                number = DatumGetInt32(value);
                break;
            case INT8OID: {
                const int64 integer = DatumGetInt64(value);
                if (unlikely(integer > engine::RawValue::kExactDoubleLimit ||
                             integer < -engine::RawValue::kExactDoubleLimit)) {
                    raw = engine::RawValue::of_integer(integer);  // a key keeps its exact value
                    continue;
                }
                number = double(integer);
                break;
            }
            case INT2OID:
                number = DatumGetInt16(value);
                break;
            case BOOLOID:
                number = DatumGetBool(value) ? 1.0 : 0.0;
                break;
            default:
                goto other_types;
        }
        raw.type = engine::RawValue::Type::Number;
        raw.exact_integer = false;
        raw.number = number;
        continue;
    other_types:
        switch (binding->types[j]) {
            case TEXTOID:
            case VARCHAROID: {
                text* t = DatumGetTextPP(value);
                raw = engine::RawValue::of_text(VARDATA_ANY(t), uint32_t(VARSIZE_ANY_EXHDR(t)));
                break;
            }
            case BPCHAROID: {
                // char(n) pads its values with blanks that PostgreSQL ignores in comparisons and drops in a cast
                // to text: 'FR' in a char(3) column is the category 'FR' of a text column, not 'FR '.
                text* t = DatumGetTextPP(value);
                const int length = bpchartruelen(VARDATA_ANY(t), int(VARSIZE_ANY_EXHDR(t)));
                raw = engine::RawValue::of_text(VARDATA_ANY(t), uint32_t(length));
                break;
            }
            case NAMEOID: {
                const char* name = NameStr(*DatumGetName(value));
                raw = engine::RawValue::of_text(name, uint32_t(strlen(name)));
                break;
            }
            case TIMESTAMPOID:
            case TIMESTAMPTZOID:
                raw = engine::RawValue::of_time(engine_time(DatumGetTimestamp(value)));
                break;
            case DATEOID:
                raw = engine::RawValue::of_time(engine_time(DatumGetDateADT(value)));
                break;
            case INETOID:
            case CIDROID: {
                inet* address = DatumGetInetPP(value);
                const bool v6 = ip_family(address) == PGSQL_AF_INET6;
                raw = engine::RawValue::of_inet(ip_addr(address), v6);
                break;
            }
            default: {
                const double number = feature_value(value, binding->types[j]);
                raw = engine::RawValue::of_number(number);
                // An integral numeric beyond 2^53 (a card number as numeric(19)): its exact value, for keys (>=: a
                // numeric 2^53 + 1 is the double 2^53).
                if (binding->types[j] == NUMERICOID &&
                    std::fabs(number) >= double(engine::RawValue::kExactDoubleLimit) && std::isfinite(number))
                    exact_numeric_integer(DatumGetNumeric(value), &raw);
                break;
            }
        }
    }
}

}  // namespace

struct GeneratedInputs {
    int n;
    int* attnums;  // 0-based attributes of the row that are stored generated inputs
    ExprState** expressions;
    EState* estate;  // its per-tuple context holds the computed values until the next row
    TupleTableSlot* slot;
};

void bind_generated_inputs(RowBinding* binding, Relation relation, MemoryContext context) {
    TupleDesc descriptor = RelationGetDescr(relation);
    if (!descriptor->constr || !descriptor->constr->has_generated_stored) return;
    int n = 0;
    for (int j = 0; j < binding->n_inputs; ++j)
        if (binding->attnums[j] >= 0 &&
            TupleDescAttr(descriptor, binding->attnums[j])->attgenerated == ATTRIBUTE_GENERATED_STORED)
            ++n;
    if (n == 0) return;
    MemoryContext old = MemoryContextSwitchTo(context);
    auto* generated = static_cast<GeneratedInputs*>(palloc0(sizeof(GeneratedInputs)));
    generated->attnums = static_cast<int*>(palloc(sizeof(int) * n));
    generated->expressions = static_cast<ExprState**>(palloc(sizeof(ExprState*) * n));
    generated->estate = CreateExecutorState();  // its memory is a child of context
    generated->slot = MakeSingleTupleTableSlot(binding->descriptor, &TTSOpsHeapTuple);
    for (int j = 0; j < binding->n_inputs; ++j) {
        const int attnum = binding->attnums[j];
        if (attnum < 0 || TupleDescAttr(descriptor, attnum)->attgenerated != ATTRIBUTE_GENERATED_STORED) continue;
        // The expression PostgreSQL itself evaluates for the column (ExecInitStoredGenerated does the same).
        Node* expression = build_column_default(relation, attnum + 1);
        if (!expression)
            ereport(ERROR,
                    (errcode(ERRCODE_INTERNAL_ERROR),
                     errmsg("no generation expression for column \"%s\" of \"%s\"",
                            NameStr(TupleDescAttr(descriptor, attnum)->attname), RelationGetRelationName(relation))));
        generated->attnums[generated->n] = attnum;
        generated->expressions[generated->n] = ExecPrepareExpr(reinterpret_cast<Expr*>(expression), generated->estate);
        ++generated->n;
    }
    MemoryContextSwitchTo(old);
    binding->generated = generated;
}

bool binding_reads_column(const RowBinding* binding, Relation relation, int attnum, const std::vector<bool>* unread) {
    // Derived and generation expressions are over the row alone (varno 1); a whole-row reference reads every
    // column.
    const auto reads = [&](Node* expression) {
        Bitmapset* columns = nullptr;
        pull_varattnos(expression, 1, &columns);
        return bms_is_member(attnum + 1 - FirstLowInvalidHeapAttributeNumber, columns) ||
               bms_is_member(0 - FirstLowInvalidHeapAttributeNumber, columns);
    };
    TupleDesc descriptor = RelationGetDescr(relation);
    const DerivedInputs* derived = binding->derived;
    for (int j = 0; j < binding->n_inputs; ++j) {
        if (unread && (*unread)[size_t(j)]) continue;
        const int input = binding->attnums[j];
        if (input == attnum) return true;
        if (input >= 0 && input < descriptor->natts &&
            TupleDescAttr(descriptor, input)->attgenerated == ATTRIBUTE_GENERATED_STORED) {
            Node* generation = build_column_default(relation, input + 1);
            if (generation && reads(generation)) return true;
        }
        if (input >= descriptor->natts && derived)
            for (int k = 0; k < derived->n; ++k)
                if (derived->value_index[k] == input && reads(reinterpret_cast<Node*>(derived->expressions[k]->expr)))
                    return true;
    }
    return false;
}

namespace {

// Overwrites the generated inputs of the deformed row with the values PostgreSQL will store.
void compute_generated_inputs(RowBinding* binding, HeapTuple tuple) {
    GeneratedInputs* generated = binding->generated;
    ExprContext* econtext = GetPerTupleExprContext(generated->estate);
    ResetExprContext(econtext);
    ExecStoreHeapTuple(tuple, generated->slot, false);
    econtext->ecxt_scantuple = generated->slot;
    for (int i = 0; i < generated->n; ++i) {
        const int attnum = generated->attnums[i];
        binding->values[attnum] =
            ExecEvalExprSwitchContext(generated->expressions[i], econtext, &binding->nulls[attnum]);
    }
    ExecClearTuple(generated->slot);
}

}  // namespace

namespace {

struct DerivedInProgress {
    const DerivedInputs* derived;
    int index;
};

void name_derived_column(void* argument) {
    const auto* current = static_cast<const DerivedInProgress*>(argument);
    errcontext("derived column \"%s\" of featurizer \"%s\"", current->derived->names[current->index],
               current->derived->featurizer);
}

// Evaluates the derived inputs over the row in slot (deformed), into binding->values[natts + k].
void compute_derived_inputs(RowBinding* binding, TupleTableSlot* slot) {
    DerivedInputs* derived = binding->derived;
    ExprContext* econtext = GetPerTupleExprContext(derived->estate);
    ResetExprContext(econtext);
    econtext->ecxt_scantuple = slot;
    DerivedInProgress current{derived, 0};
    ErrorContextCallback callback{error_context_stack, name_derived_column, &current};
    error_context_stack = &callback;
    for (int i = 0; i < derived->n; ++i) {
        current.index = i;
        const int index = derived->value_index[i];
        binding->values[index] = ExecEvalExprSwitchContext(derived->expressions[i], econtext, &binding->nulls[index]);
    }
    error_context_stack = callback.previous;
}

}  // namespace

void load_row(RowBinding* binding, HeapTuple tuple) {
    heap_deform_tuple(tuple, binding->descriptor, binding->values, binding->nulls);
    if (binding->generated) compute_generated_inputs(binding, tuple);
    if (binding->derived) {
        // Derived columns see the row as it will be stored: generated columns computed.
        TupleTableSlot* slot = binding->derived->slot;
        ExecClearTuple(slot);
        const int natts = binding->descriptor->natts;
        memcpy(slot->tts_values, binding->values, sizeof(Datum) * natts);
        memcpy(slot->tts_isnull, binding->nulls, sizeof(bool) * natts);
        ExecStoreVirtualTuple(slot);
        compute_derived_inputs(binding, slot);
    }
    load_values(binding, binding->values, binding->nulls);
}

void load_slot(RowBinding* binding, TupleTableSlot* slot) {
    if (!binding->derived) {
        load_values(binding, slot->tts_values, slot->tts_isnull);
        return;
    }
    const int natts = binding->descriptor->natts;
    memcpy(binding->values, slot->tts_values, sizeof(Datum) * natts);
    memcpy(binding->nulls, slot->tts_isnull, sizeof(bool) * natts);
    compute_derived_inputs(binding, slot);
    load_values(binding, binding->values, binding->nulls);
}

}  // namespace dendrite::pg
