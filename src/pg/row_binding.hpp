// How a row feeds a featurizer: its row type bound to the featurizer's inputs by column name (checked
// against the types it was fitted on), and a tuple, a slot or a composite argument loaded into raw values.
#pragma once

#include "pg/featurizer_cache.hpp"

namespace dendrite::pg {

// How the columns of one row type feed a featurizer's inputs.
struct RowBinding {
    Oid row_type;
    int32 row_typmod;
    TupleDesc descriptor;
    int n_inputs;
    int* attnums;   // per input, 0-based attribute index (natts + k: derived column k); -1: an optional input the
                    // row lacks
    Oid* types;     // per input, base type
    Datum* values;  // the row's columns, then its derived columns
    bool* nulls;
    // The row last loaded, indexed like values: values itself, or a deformed slot's arrays (load_slot copies
    // nothing when there is no derived column). Valid until the next load or until the slot moves on.
    const Datum* loaded_values;
    const bool* loaded_nulls;
    engine::RawValue* raw;              // per input
    struct GeneratedInputs* generated;  // stored generated inputs a BEFORE ROW trigger computes; NULL: none
    struct DerivedInputs* derived;      // the featurizer's derived columns that are inputs; NULL: none
    // bind_row: the inputs a fitted featurizer never saw NULL in (NULL: none to watch), their names and the
    // featurizer's, for the NOTICE that load_values gives at the first such NULL; missing_noted: given since the
    // binding was made (a statement's or a pass's) or since a guard's statement began.
    const bool* never_missing;
    char* const* input_names;
    const char* featurizer_name;
    bool missing_noted;
    // note_unseen_categories: the featurizer's count of rows with a category it never saw (in a column whose
    // fitting rows all had a known one) when the binding last looked, and whether its NOTICE was given since
    // the binding was made or a guard's statement began.
    uint64 unseen_categories_seen;
    bool unseen_category_noted;
};

// After rows were featurized through the binding's featurizer (on this thread, or on a helper that has finished
// them): the NOTICE, once a statement or pass, that a row brought a category the featurizer never saw where all
// its fitting rows had a known one (scored through an input no training row had).
void note_unseen_category_slow(RowBinding* binding, const engine::Featurizer* featurizer);
inline void note_unseen_categories(RowBinding* binding, const engine::Featurizer* featurizer) {
    if (unlikely(featurizer->unseen_category_rows() != binding->unseen_categories_seen))
        note_unseen_category_slow(binding, featurizer);
}
// A guard's statement begins: what earlier statements brought is not said again.
inline void restart_unseen_category_notes(RowBinding* binding, const engine::Featurizer* featurizer) {
    binding->unseen_categories_seen = featurizer->unseen_category_rows();
    binding->unseen_category_noted = false;
}

engine::SqlTypeClass type_class(Oid base_type);
const char* type_class_name(engine::SqlTypeClass type);
// The name a featurizer stores for an input's type when fitted: its class's, except for the three time
// types, which share the engine's class but not their meaning (a timestamptz is an instant, its hour UTC's;
// a timestamp a wall-clock reading; a date a day): "timestamp without time zone", "timestamp with time
// zone", "date". time_type_named gives the type back for those names, InvalidOid for any other (the class
// name "timestamp", stored by 0.5.0 and earlier for all three, binds any of them as before).
const char* fitted_type_name(Oid base_type);
Oid time_type_named(const char* name);

// Binds a row type to the featurizer's inputs (in context); 42703 for a missing column, 42804 for a
// column whose type changed since fitting, both naming the column. Inputs that are derived columns are
// compiled over the row type (derived_columns.hpp).
void bind_row(RowBinding* binding, const CachedFeaturizer* featurizer, TupleDesc descriptor, MemoryContext context);
// The same for a list of input names; fitted_types may be NULL (no type check), derived NULL (none).
// labels_feed_history: a history declaration counts labels (a label column of another type is then an error;
// otherwise it is left unread).
void bind_inputs(RowBinding* binding, int n_inputs, char* const* names, const engine::SqlTypeClass* fitted_types,
                 const bool* optional, const DerivedDeclarations* derived, const char* owner, int version,
                 TupleDesc descriptor, MemoryContext context, bool labels_feed_history = false,
                 const Oid* fitted_time_types = nullptr);
// Loads a composite argument (a row passed to features, observe, score) into binding, binding its row type
// first, and again whenever the type differs from the one bound (*bound tracks it; memory in context).
void load_composite(RowBinding* binding, bool* bound, const CachedFeaturizer* featurizer, HeapTupleHeader row,
                    MemoryContext context);
// For a BEFORE ROW trigger's binding: PostgreSQL computes a table's stored generated columns after the
// BEFORE triggers, so NEW holds NULL there (on UPDATE, the old value). The generation expressions of the
// inputs that are such columns are compiled once (in context) and load_row evaluates them from the row's
// other columns, exactly as PostgreSQL will store them. Nothing to do when no input is generated.
void bind_generated_inputs(RowBinding* binding, Relation relation, MemoryContext context);
// Whether the featurizer bound here to a row of relation reads its attribute attnum (0-based): as an input, or
// through a derived input or a stored generated input that is computed from it. unread: per input, those not to
// count (NULL: all count).
bool binding_reads_column(const RowBinding* binding, Relation relation, int attnum,
                          const std::vector<bool>* unread = nullptr);
// Reads a tuple into binding->raw (text values point into the tuple, a detoasted copy in the current
// memory context, or a derived value that lives until the next row is loaded).
void load_row(RowBinding* binding, HeapTuple tuple);
// The same for a deformed slot (see select_rows).
void load_slot(RowBinding* binding, TupleTableSlot* slot);

}  // namespace dendrite::pg
