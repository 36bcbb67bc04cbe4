// Guard states: built on a trigger's first row, kept per backend across statements (see "Guard states
// across statements" below), lent to one statement at a time.
#include "pg/guard_state.hpp"

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>

#include "pg/boundary.hpp"
#include "pg/catalog.hpp"
#include "pg/explain.hpp"
#include "pg/values.hpp"

extern "C" {
#include "access/table.h"
#include "access/tableam.h"
#include "access/tupdesc.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_trigger.h"
#include "executor/executor.h"
#include "commands/trigger.h"
#include "executor/tuptable.h"
#include "nodes/bitmapset.h"
#include "utils/rel.h"
#include "utils/inval.h"
#include "utils/relcache.h"
#include "utils/datum.h"
#include "utils/tuplestore.h"
#include "utils/typcache.h"
#include "utils/syscache.h"
#include "catalog/pg_index.h"
#include "catalog/partition.h"
}

namespace dendrite::pg {

namespace {

// The columns of dendrite.predictions that 'log' fills, found by name (the layout is the same in every
// version, but attribute numbers need not be: a column dropped and added back by an upgrade would move).
const char* const kLogColumns[9] = {"version_id", "table_name",   "row_key", "score", "threshold",
                                    "decision",   "predicted_at", "reasons", "shadow"};

void resolve_log_relation(GuardState* state) {
    state->log_relation = get_relname_relid("predictions", get_namespace_oid("dendrite", false));
    if (!OidIsValid(state->log_relation))
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("dendrite.predictions does not exist"),
                        errhint("Run ALTER EXTENSION dendrite UPDATE, or reinstall the extension.")));
    for (int c = 0; c < 9; ++c) {
        if (c == 7 && !state->reasons) continue;
        const AttrNumber attnum = get_attnum(state->log_relation, kLogColumns[c]);
        // shadow (since 0.6.0) is written whenever it exists (it is NOT NULL), needed only by 'shadow:N'.
        if (attnum == InvalidAttrNumber && c == 8 && !state->shadow_request) {
            state->log_attributes[c] = -1;
            continue;
        }
        if (attnum == InvalidAttrNumber)
            ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
                            errmsg("dendrite.predictions has no column \"%s\"", kLogColumns[c]),
                            errhint("Run ALTER EXTENSION dendrite UPDATE, or reinstall the extension.")));
        state->log_attributes[c] = attnum - 1;
    }
}

[[noreturn]] void bad_argument(const char* function, const char* message, const char* detail) {
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("%s: %s", function, message),
                    detail ? errdetail("%s", detail) : 0,
                    errhint("Arguments: model, action ('reject', 'flag', 'log', 'reject,log' or 'flag,log'; 'reasons' "
                            "added to 'log' keeps why flagged rows scored high, 'shadow:N' logs version N's decisions "
                            "beside them), "
                            "threshold (0..1 or 'default'), flag columns (comma-separated), key column.")));
    pg_unreachable();
}

int column_index(TupleDesc descriptor, const char* name, const char* function, const char* role, Relation relation) {
    for (int i = 0; i < descriptor->natts; ++i) {
        Form_pg_attribute attribute = TupleDescAttr(descriptor, i);
        if (!attribute->attisdropped && strcmp(NameStr(attribute->attname), name) == 0) return i;
    }
    ereport(ERROR,
            (errcode(ERRCODE_UNDEFINED_COLUMN), errmsg("%s: table \"%s\" has no column \"%s\" (its %s column)",
                                                       function, RelationGetRelationName(relation), name, role)));
    pg_unreachable();
}

void parse_action(GuardState* state, const char* action) {
    char* copy = pstrdup(action);
    char* saveptr = nullptr;
    int n = 0;
    for (char* word = strtok_r(copy, ", +", &saveptr); word; word = strtok_r(nullptr, ", +", &saveptr), ++n) {
        if (strcmp(word, "reject") == 0)
            state->reject = true;
        else if (strcmp(word, "flag") == 0)
            state->flag = true;
        else if (strcmp(word, "log") == 0)
            state->log = true;
        else if (strcmp(word, "reasons") == 0)
            state->reasons = true;
        else if (strncmp(word, "shadow", 6) == 0) {
            char* end = nullptr;
            errno = 0;
            const long version = word[6] == ':' ? strtol(word + 7, &end, 10) : 0;
            if (word[6] != ':' || errno != 0 || end == word + 7 || *end != '\0' || version < 1 || version > INT_MAX)
                bad_argument(state->function, psprintf("\"%s\" is not 'shadow:' and a version number", word),
                             "As in 'flag,log,shadow:7': version 7 is scored beside the serving version and logged.");
            state->shadow_request = int(version);
        } else
            bad_argument(state->function, psprintf("unknown action \"%s\"", word), nullptr);
    }
    if (n == 0) bad_argument(state->function, "the action is empty", nullptr);
    if (state->reject && state->flag)
        bad_argument(state->function, "'reject' and 'flag' exclude each other",
                     "A rejected row is never written, so there is nothing to flag.");
    if (state->reasons && !state->log)
        bad_argument(state->function, "'reasons' needs 'log'",
                     "The reasons of flagged rows are kept in dendrite.predictions beside the logged decision, as in "
                     "'log,reasons' or 'flag,log,reasons'.");
    if (state->shadow_request && !state->log)
        bad_argument(state->function, "'shadow' needs 'log'",
                     "A shadow version never acts: its decisions are only logged, beside the serving version's, as in "
                     "'flag,log,shadow:7'.");
}

// 'shadow:N': version N if it can be scored on the serving version's features; else a WARNING and none (a
// guard keeps guarding when its challenger goes: payments must not fail because of a shadow).
void resolve_shadow(GuardState* state, bool batch, bool row_trigger, MemoryContext context) {
    if (batch && row_trigger)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("%s: 'shadow' is not supported by the row capture", state->function),
                        errdetail("The capture featurizes and scores its rows on a helper thread, with the serving "
                                  "version only."),
                        errhint("Use dendrite.guard, or dendrite.guard_batch with REFERENCING NEW TABLE.")));
    // Rebuilt when the model catalog changes: version N may be dropped, or trained later.
    model_catalog_relations(state->model_catalog);
    const CachedVersion* shadow = model_version(state->model, state->shadow_request, true);
    const char* why = nullptr;
    if (!shadow)
        why = "the model has no such version";
    else if (shadow == state->version)
        why = "it is the serving version";
    else if (shadow->featurizer->featurizer_id != state->version->featurizer->featurizer_id)
        why = psprintf(
            "it was trained with featurizer \"%s\" version %d, the serving version %d with \"%s\" "
            "version %d; a shadow is scored on the serving version's features",
            shadow->featurizer->name, shadow->featurizer->version, state->version->version,
            state->version->featurizer->name, state->version->featurizer->version);
    if (why) {
        ereport(WARNING, (errmsg("%s: shadow version %d of model \"%s\" is not scored: %s", state->function,
                                 state->shadow_request, state->model, why),
                          errhint("Name another version in the trigger's action, or drop 'shadow'.")));
        return;
    }
    pin_version(shadow, context);
    state->shadow = shadow;
    state->shadow_threshold = state->default_threshold ? shadow->threshold : state->threshold;
}

// Whether a valid unique index of relation has the one key column attnum (0-based), no expression and no
// predicate: only then can no two rows share a key.
bool has_unique_index_on(Relation relation, int attnum) {
    List* indexes = RelationGetIndexList(relation);
    bool found = false;
    ListCell* cell;
    foreach (cell, indexes) {
        HeapTuple tuple = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(cell)));
        if (!HeapTupleIsValid(tuple)) continue;
        const auto* index = reinterpret_cast<Form_pg_index>(GETSTRUCT(tuple));
        found = index->indisunique && index->indisvalid && index->indnkeyatts == 1 &&
                index->indkey.values[0] == attnum + 1 && heap_attisnull(tuple, Anum_pg_index_indpred, nullptr);
        ReleaseSysCache(tuple);
        if (found) break;
    }
    list_free(indexes);
    return found;
}

// guard_batch's 'flag' finds its flagged rows again by key, in an UPDATE given the keys as an array of their
// own type (no round trip through text, which extra_float_digits or a DateStyle could make inexact): the key's
// type needs a default equality (a btree or hash operator class: json, point or box have none, and box's
// "=" compares areas) and an array type. warn_if_not_unique: the statement trigger that runs the UPDATE warns
// of a key without a unique index (the row capture's row trigger, with the same arguments, does not again).
void check_flag_key(GuardState* state, Relation relation, const char* function, bool warn_if_not_unique) {
    const char* column = state->key_name;
    const char* type = format_type_be(state->key_type);
    state->key_equality = lookup_type_cache(state->key_type, TYPECACHE_EQ_OPR)->eq_opr;
    if (!OidIsValid(state->key_equality))
        ereport(ERROR,
                (errcode(ERRCODE_UNDEFINED_FUNCTION),
                 errmsg("%s: key column \"%s\" of type %s has no default equality operator", function, column, type),
                 errdetail("'flag' in the batch trigger finds its flagged rows again by key, with the equality of "
                           "the key type's default btree or hash operator class."),
                 errhint("Name a key column that identifies a row (such as a bigint or text id, or the table's "
                         "primary key) as the fifth argument.")));
    if (!OidIsValid(get_array_type(state->key_type)))
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("%s: key column \"%s\" of type %s cannot identify flagged rows", function, column, type),
                        errdetail("'flag' in the batch trigger passes the flagged rows' keys to its UPDATE as one "
                                  "array, and PostgreSQL has no array type whose elements are %s.",
                                  type),
                        errhint("Name a key column of a scalar type as the fifth argument.")));
    // A key that is not unique is no error (it may be unique by construction, or a partitioned table's key
    // without its partition column), but it must not flag rows silently.
    if (warn_if_not_unique && !has_unique_index_on(relation, state->key_attnum))
        ereport(WARNING,
                (errmsg("%s: key column \"%s\" of %s has no unique index", function, column, state->table_name),
                 errdetail("'flag' in the batch trigger updates the rows whose key equals a flagged row's key: a row "
                           "that shares its key with a flagged row gets that row's flag too."),
                 errhint("Name a column with a unique index (such as the primary key) as the fifth argument, or "
                         "create one on \"%s\".",
                         column)));
}

// A flag column must be the score's own: not a column the model reads (the score would overwrite the value it
// was computed from), not the key (batch 'flag' finds the row by it), not named twice, and not a stored
// generated column (PostgreSQL computes that after the BEFORE triggers, and the score would be lost).
void check_flag_columns(const GuardState* state, Relation relation, const char* function) {
    TupleDesc descriptor = RelationGetDescr(relation);
    for (int i = 0; i < state->n_flag_columns; ++i) {
        const int attnum = state->flag_attnums[i];
        const char* name = NameStr(TupleDescAttr(descriptor, attnum)->attname);
        if (TupleDescAttr(descriptor, attnum)->attgenerated == ATTRIBUTE_GENERATED_STORED)
            ereport(ERROR, (errcode(ERRCODE_GENERATED_ALWAYS),
                            errmsg("%s: flag column \"%s\" is a generated column", function, name),
                            errdetail("PostgreSQL computes it from the row's other columns after the BEFORE "
                                      "triggers: the score written there would be lost."),
                            errhint("Add a plain column for the score.")));
        const char* clash = nullptr;
        if (binding_reads_column(&state->binding, relation, attnum))
            clash = psprintf(
                "Version %d of model \"%s\" reads it: the score would overwrite a value it was "
                "computed from",
                state->version->version, state->model);
        else if (attnum == state->key_attnum)
            clash = pstrdup("It is the key column that identifies the row");
        else if (i == 1 && attnum == state->flag_attnums[0])
            clash = pstrdup("It is named twice");
        if (clash)
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                            errmsg("%s: \"%s\" cannot be a flag column", function, name), errdetail("%s.", clash),
                            errhint("Add a column of its own for the score (float8) or the decision (boolean).")));
    }
}

// Whether an enabled dendrite.guard row trigger on relation fires on UPDATE for model (only_history_only: one with the
// model's name alone). It must fire on every UPDATE (no column list, no WHEN), or, with label_attnum (1-based; 0:
// every UPDATE needed), at least on the updates of that column.
bool has_update_follower(Relation relation, const char* model, bool only_history_only, int label_attnum) {
    const TriggerDesc* triggers = relation->trigdesc;
    const Oid schema = get_namespace_oid("dendrite", true);
    const bool replica = SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA;
    for (int i = 0; triggers && i < triggers->numtriggers; ++i) {
        const Trigger* t = &triggers->triggers[i];
        if (!TRIGGER_FOR_ROW(t->tgtype) || !TRIGGER_FOR_UPDATE(t->tgtype) || t->tgnargs < 1 ||
            (only_history_only && t->tgnargs != 1) || strcmp(t->tgargs[0], model) != 0)
            continue;
        const bool fires = t->tgenabled == TRIGGER_FIRES_ALWAYS || (replica ? t->tgenabled == TRIGGER_FIRES_ON_REPLICA
                                                                            : t->tgenabled == TRIGGER_FIRES_ON_ORIGIN);
        bool every_update = t->tgnattr == 0 && !t->tgqual;
        for (int a = 0; !every_update && label_attnum > 0 && a < t->tgnattr; ++a)
            every_update = t->tgattr[a] == label_attnum;
        if (!fires || !every_update || get_func_namespace(t->tgfoid) != schema) continue;
        const char* name = get_func_name(t->tgfoid);
        if (name && strcmp(name, "guard") == 0) return true;
    }
    return false;
}

// A trigger scoring inserted rows whose featurizer counts frauds (fraud_rate, fraud_count): the labels of its rows
// arrive later, by UPDATE, and reach the inline history only through a dendrite.guard trigger fired on UPDATE.
// Without one the history counts them only once it is rebuilt, where training and score_query count them: said
// once when the trigger's state is built.
void note_labels_not_followed(const GuardState* state, Relation relation) {
    const CachedFeaturizer* featurizer = state->version->featurizer;
    if (!featurizer->featurizer->history_counts_labels()) return;
    const char* label = nullptr;
    bool label_in_table = false;
    int label_attnum = 0;  // 1-based; 0 for a derived label (any column may change it)
    for (const auto& h : featurizer->featurizer->spec().all_history()) {
        if (h.label.empty()) continue;
        label = h.label.c_str();
        for (int j = 0; j < featurizer->n_inputs; ++j) {
            if (strcmp(featurizer->input_names[j], label) != 0) continue;
            label_in_table = state->binding.attnums[j] >= 0;
            if (state->binding.attnums[j] < state->binding.descriptor->natts)
                label_attnum = state->binding.attnums[j] + 1;
        }
        break;
    }
    if (label_in_table && has_update_follower(relation, state->model, false, label_attnum)) return;
    ereport(
        NOTICE,
        (errmsg("%s: labels set after a row of %s is inserted do not reach the inline history of featurizer "
                "\"%s\"",
                state->function, state->table_name, featurizer->name),
         label_in_table
             ? errdetail("Its history counts frauds by column \"%s\", and no dendrite.guard trigger for the model "
                         "fires on every UPDATE of it: a label set later counts in a session's history only once that "
                         "history is rebuilt, where training and score_query count it.",
                         label)
             : errdetail("Its history counts frauds by column \"%s\", which the table does not have: its rows join "
                         "the history with unknown labels, counted only once a session's history is rebuilt.",
                         label),
         label_in_table ? errhint("CREATE TRIGGER ... AFTER UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION "
                                  "dendrite.guard('%s');",
                                  state->table_name, state->model)
                        : errhint("Keep the labels in a column of %s, and fire dendrite.guard('%s') on UPDATE.",
                                  state->table_name, state->model)));
}

// The model's serving version, pinned for as long as the state lives (in context), and the table's rows bound to its
// featurizer: a row trigger fired BEFORE sees no stored generated column yet, so those the model reads are computed.
void bind_serving_version(GuardState* state, TriggerData* trigger, MemoryContext context) {
    state->version = serving_version(state->model);
    pin_version(state->version, context);
    bind_row(&state->binding, state->version->featurizer, RelationGetDescr(trigger->tg_relation), context);
    if (TRIGGER_FIRED_BEFORE(trigger->tg_event) && TRIGGER_FIRED_FOR_ROW(trigger->tg_event))
        bind_generated_inputs(&state->binding, trigger->tg_relation, context);
}

// Parses the trigger's arguments and binds them to the table and the serving version, allocating in
// context (which the state then belongs to, pins included).
GuardState* build_guard_state(TriggerData* trigger, const char* function, bool batch, MemoryContext context) {
    MemoryContext old = MemoryContextSwitchTo(context);
    auto* state = static_cast<GuardState*>(palloc0(sizeof(GuardState)));
    state->function = function;
    state->trigger_oid = trigger->tg_trigger->tgoid;
    state->relation_oid = RelationGetRelid(trigger->tg_relation);
    Relation relation = trigger->tg_relation;
    TupleDesc descriptor = RelationGetDescr(relation);
    const Trigger* t = trigger->tg_trigger;
    state->table_name = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(relation)),
                                                   RelationGetRelationName(relation));
    if (!batch && t->tgnargs == 1 && TRIGGER_FIRED_FOR_ROW(trigger->tg_event) &&
        (TRIGGER_FIRED_BY_UPDATE(trigger->tg_event) || TRIGGER_FIRED_BY_DELETE(trigger->tg_event))) {
        // The model's name alone: the history follows the updated and deleted rows; nothing is scored.
        state->history_only = true;
        state->model = pstrdup(t->tgargs[0]);
        bind_serving_version(state, trigger, context);
        state->binding.never_missing = nullptr;  // nothing is scored: a NULL is imputed nowhere
        state->follows_updates = state->version->featurizer->featurizer->keeps_history();
        MemoryContextSwitchTo(old);
        return state;
    }
    if (!batch && t->tgnargs == 1)
        bad_argument(function, "the model's name alone scores nothing",
                     "Fired with only the model's name on UPDATE or DELETE (or TRUNCATE), it keeps the inline history "
                     "in step with the table; to score inserted rows, give an action as the second argument.");
    if (t->tgnargs < 2 || t->tgnargs > 5)
        bad_argument(function, psprintf("expected 2 to 5 trigger arguments, got %d", int(t->tgnargs)), nullptr);
    state->model = pstrdup(t->tgargs[0]);
    parse_action(state, t->tgargs[1]);

    state->default_threshold = true;
    if (t->tgnargs >= 3 && strcmp(t->tgargs[2], "default") != 0) {
        const char* text = t->tgargs[2];
        char* end = nullptr;
        errno = 0;
        const double threshold = strtod(text, &end);
        if (errno != 0 || end == text || *end != '\0' || !std::isfinite(threshold) || threshold < 0 || threshold > 1)
            bad_argument(function, psprintf("threshold \"%s\" is not a number between 0 and 1", text), nullptr);
        state->default_threshold = false;
        state->threshold = threshold;
    }

    const bool has_columns = t->tgnargs >= 4 && t->tgargs[3][0] != '\0';
    if (state->flag && !has_columns)
        bad_argument(function, "'flag' needs the column(s) to write",
                     "Give a float column for the score and/or a boolean column as the fourth argument.");
    if (!state->flag && has_columns)
        bad_argument(function, "flag columns are given but the action does not flag", nullptr);
    if (has_columns) {
        char* copy = pstrdup(t->tgargs[3]);
        char* saveptr = nullptr;
        for (char* name = strtok_r(copy, ", ", &saveptr); name; name = strtok_r(nullptr, ", ", &saveptr)) {
            if (state->n_flag_columns == 2)
                bad_argument(function, "at most two flag columns (a score and a boolean)", nullptr);
            const int index = column_index(descriptor, name, function, "flag", relation);
            const Oid type = TupleDescAttr(descriptor, index)->atttypid;
            if (type != FLOAT8OID && type != FLOAT4OID && type != NUMERICOID && type != BOOLOID)
                ereport(
                    ERROR,
                    (errcode(ERRCODE_DATATYPE_MISMATCH),
                     errmsg("%s: flag column \"%s\" is of type %s", function, name, format_type_be(type)),
                     errhint("A flag column is float8, real or numeric (the score) or boolean (score >= threshold).")));
            const int32 typmod = TupleDescAttr(descriptor, index)->atttypmod;
            if (type == NUMERICOID && typmod >= int32(VARHDRSZ)) {
                // numeric(p, s) holds |x| < 10^(p - s): a score of 1 (rounded to s) needs p - s >= 1. Without
                // room for it, the rows that score highest would fail to insert with 22003.
                const int32 packed = typmod - int32(VARHDRSZ);
                const int precision = (packed >> 16) & 0xffff, scale = ((packed & 0x7ff) ^ 1024) - 1024;
                if (precision - scale < 1)
                    ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
                                    errmsg("%s: flag column \"%s\" of type %s cannot hold a score of 1", function, name,
                                           format_type_with_typemod(type, typmod)),
                                    errhint("Give the score column room for one digit before the point, as in "
                                            "numeric(5, 4), or use float8.")));
            }
            state->flag_attnums[state->n_flag_columns] = index;
            state->flag_types[state->n_flag_columns] = type;
            state->flag_typmods[state->n_flag_columns] = typmod;
            state->n_flag_columns++;
        }
    }

    state->key_attnum = -1;
    if (t->tgnargs >= 5 && t->tgargs[4][0] != '\0') {
        state->key_attnum = column_index(descriptor, t->tgargs[4], function, "key", relation);
    } else {
        Bitmapset* primary_key = RelationGetIndexAttrBitmap(relation, INDEX_ATTR_BITMAP_PRIMARY_KEY);
        if (bms_num_members(primary_key) == 1)
            state->key_attnum = bms_singleton_member(primary_key) + FirstLowInvalidHeapAttributeNumber - 1;
    }
    if (batch && state->flag && state->key_attnum < 0)
        bad_argument(function, "'flag' in the batch trigger needs a key column",
                     "The table has no single-column primary key; name the key column as the fifth argument.");
    if (state->key_attnum >= 0) {
        Form_pg_attribute key = TupleDescAttr(descriptor, state->key_attnum);
        key_text_form(key->atttypid, &state->key_output_function, &state->key_blank_padded);
        state->key_name = pstrdup(NameStr(key->attname));
        state->key_type = key->atttypid;
        state->key_byval = key->attbyval;
        state->key_typlen = key->attlen;
        state->key_align = key->attalign;
    }
    state->logged_table_name = state->table_name;
    if (relation->rd_rel->relispartition) {  // a trigger cloned onto a partition logs under the partitioned table
        const Oid root = llast_oid(get_partition_ancestors(RelationGetRelid(relation)));
        state->logged_table_name =
            quote_qualified_identifier(get_namespace_name(get_rel_namespace(root)), get_rel_name(root));
    }
    if (batch && state->flag) check_flag_key(state, relation, function, TRIGGER_FIRED_FOR_STATEMENT(trigger->tg_event));

    if (state->log) resolve_log_relation(state);  // once per state, not per logged row

    bind_serving_version(state, trigger, context);
    state->threshold = state->default_threshold ? state->version->threshold : state->threshold;
    if (state->shadow_request) resolve_shadow(state, batch, TRIGGER_FIRED_FOR_ROW(trigger->tg_event), context);
    check_flag_columns(state, relation, function);
    const engine::Featurizer* engine_featurizer = state->version->featurizer->featurizer;
    if (!batch && TRIGGER_FOR_UPDATE(t->tgtype)) {
        state->input_attributes = static_cast<int*>(palloc(sizeof(int) * size_t(descriptor->natts)));
        for (int attnum = 0; attnum < descriptor->natts; ++attnum)
            if (!TupleDescAttr(descriptor, attnum)->attisdropped &&
                binding_reads_column(&state->binding, relation, attnum, &engine_featurizer->label_only_inputs()))
                state->input_attributes[state->n_input_attributes++] = attnum;
        state->follows_updates =
            engine_featurizer->keeps_history() && !has_update_follower(relation, state->model, true, 0);
    }
    // The statement trigger of a row capture says it, not the row trigger too.
    if (TRIGGER_FOR_INSERT(t->tgtype) && !(batch && TRIGGER_FIRED_FOR_ROW(trigger->tg_event)))
        note_labels_not_followed(state, relation);
    if (state->reasons) {
        if (batch && TRIGGER_FIRED_FOR_ROW(trigger->tg_event))
            ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                            errmsg("%s: 'reasons' is not supported by the row capture", function),
                            errdetail("The capture featurizes and scores its rows on a helper thread and keeps neither "
                                      "their features nor their values."),
                            errhint("Use dendrite.guard, or dendrite.guard_batch with REFERENCING NEW TABLE.")));
        if (const char* why = unexplainable(state->version)) {
            ereport(NOTICE, (errmsg("%s: the reasons of flagged rows are not logged: version %d of model \"%s\" "
                                    "cannot be explained: %s",
                                    function, state->version->version, state->model, why),
                             errhint("Retrain the model.")));
            state->reasons = false;
        }
    }
    if (!batch) {  // the batch trigger's buffers (~1 MB) are its statement's, not kept between statements
        state->x = static_cast<float*>(palloc(sizeof(float) * size_t(state->version->n_features + 1)));
        state->scratch = static_cast<float*>(palloc(sizeof(float) * size_t(state->version->scratch_floats)));
        if (state->shadow)
            state->shadow_scratch = static_cast<float*>(palloc(sizeof(float) * size_t(state->shadow->scratch_floats)));
    }
    MemoryContextSwitchTo(old);
    return state;
}

// Guard states across statements. fn_extra lives as long as one statement, and building a state costs
// more than scoring a row (~3.5 us against ~1 us: copying the table's descriptor, binding columns by name,
// syscache lookups), which every single-row INSERT paid. Built states are therefore kept per backend,
// keyed by trigger and table, and lent to one statement at a time:
//  * a relcache invalidation of the table (ALTER TABLE, CREATE or DROP TRIGGER, a new primary key, a
//    dropped extension's cascade, a cache reset) marks its states stale; the callback only sets flags,
//    since it can run in the middle of a statement that uses the state;
//  * each statement looks up the serving version again (a list lookup, see model_cache.hpp), so a deploy
//    in any session is seen at the next statement as before;
//  * a stale state, or one built for another version, is deleted once no statement holds it, and rebuilt;
//  * a statement that finds the state lent to an enclosing statement (a trigger inserting into the same
//    table) builds a private one for itself: buffers are never shared.
// The loan ends when the statement's fn_mcxt goes, also on error: a reset callback hands the state back.
constexpr int kCachedGuards = 16;
GuardState* cached_guards = nullptr;
bool guard_callback_registered = false;

void mark_guards_stale(Datum, Oid relation) {
    // A state with a shadow also goes when the model catalog changes (its shadow version may be dropped:
    // the statement's check of the serving version would not see it).
    for (GuardState* state = cached_guards; state; state = state->next) {
        bool stale = relation == InvalidOid || state->relation_oid == relation;
        if (state->shadow_request)
            for (Oid watched : state->model_catalog) stale = stale || relation == watched;
        if (stale) state->stale = true;
    }
}

void end_loan(void* arg) { static_cast<GuardState*>(arg)->in_use = false; }

void lend(GuardState* state, FunctionCallInfo fcinfo) {
    auto* callback =
        static_cast<MemoryContextCallback*>(MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(MemoryContextCallback)));
    callback->func = end_loan;
    callback->arg = state;
    MemoryContextRegisterResetCallback(fcinfo->flinfo->fn_mcxt, callback);
    state->in_use = true;
    state->update_history_noted = false;
    state->binding.missing_noted = false;  // a NULL its featurizer never saw is said once a statement
    restart_unseen_category_notes(&state->binding, state->version->featurizer->featurizer);  // and a new category
    state->capture = nullptr;  // a capture of an earlier statement that failed is gone with its transaction
    fcinfo->flinfo->fn_extra = state;
}

// Deletes the cached states that no statement holds and that are stale or beyond kCachedGuards (the list
// is newest first, so the oldest go).
void drop_unused_guards() {
    int kept = 0;
    for (GuardState** link = &cached_guards; *link;) {
        GuardState* state = *link;
        if (!state->in_use && (state->stale || kept >= kCachedGuards)) {
            *link = state->next;
            MemoryContextDelete(state->context);  // unpins the version
            continue;
        }
        ++kept;
        link = &state->next;
    }
}

}  // namespace

// The state for this statement: fn_extra after its first row; else the cached state of this trigger,
// checked against the serving version; else a new one.
GuardState* guard_state(FunctionCallInfo fcinfo, TriggerData* trigger, const char* function, bool batch) {
    if (fcinfo->flinfo->fn_extra) return static_cast<GuardState*>(fcinfo->flinfo->fn_extra);
    if (!guard_callback_registered) {
        CacheRegisterRelcacheCallback(mark_guards_stale, Datum(0));
        guard_callback_registered = true;
    }
    const Oid trigger_oid = trigger->tg_trigger->tgoid, relation_oid = RelationGetRelid(trigger->tg_relation);
    const auto find = [&]() -> GuardState* {
        for (GuardState* state = cached_guards; state; state = state->next)
            if (state->trigger_oid == trigger_oid && state->relation_oid == relation_oid) return state;
        return nullptr;
    };
    GuardState* cached = find();
    if (cached && !cached->in_use && !cached->stale) {
        // May run a catalog query, and with it invalidations that mark this state stale: check after.
        const CachedVersion* serving = serving_version(cached->model);
        if (!cached->stale && serving == cached->version) {
            lend(cached, fcinfo);
            return cached;
        }
        cached->stale = true;  // built for another version
    }
    drop_unused_guards();
    const bool shared = find() == nullptr;  // else lent to an enclosing statement: build a private state
    MemoryContext context = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt, "dendrite guard", ALLOCSET_SMALL_SIZES);
    GuardState* state = build_guard_state(trigger, function, batch, context);
    if (!shared) {
        fcinfo->flinfo->fn_extra = state;  // deleted with fn_mcxt, its parent
        return state;
    }
    // Complete: only now does it outlive the statement (an error while building freed it with fn_mcxt).
    MemoryContextSetParent(context, TopMemoryContext);
    state->context = context;
    state->next = cached_guards;
    cached_guards = state;
    lend(state, fcinfo);
    drop_unused_guards();
    return state;
}

void check_trigger_context(FunctionCallInfo fcinfo, const char* function, bool batch) {
    if (!CALLED_AS_TRIGGER(fcinfo))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("%s can only be called as a trigger", function)));
    auto* trigger = reinterpret_cast<TriggerData*>(fcinfo->context);
    const TriggerEvent event = trigger->tg_event;
    // dendrite.guard: BEFORE INSERT OR UPDATE ... FOR EACH ROW scores (and, fired by UPDATE, keeps the inline history
    // in step with the row); with the model's name alone, fired by UPDATE ... FOR EACH ROW (before or after), it
    // only does the latter; on DELETE (row or statement, before or after) and TRUNCATE it makes the inline history
    // forget the rows that went.
    const bool scores = TRIGGER_FIRED_BEFORE(event) && TRIGGER_FIRED_FOR_ROW(event) &&
                        (TRIGGER_FIRED_BY_INSERT(event) || TRIGGER_FIRED_BY_UPDATE(event));
    const bool follows =
        TRIGGER_FIRED_FOR_ROW(event) && TRIGGER_FIRED_BY_UPDATE(event) && trigger->tg_trigger->tgnargs == 1;
    if (!batch && TRIGGER_FIRED_BY_UPDATE(event) && TRIGGER_FIRED_FOR_STATEMENT(event))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("%s fired by UPDATE must be fired FOR EACH ROW", function),
                        errdetail("On UPDATE it keeps the inline history in step with each row whose label, entity, "
                                  "time or value changed, which a statement trigger does not see."),
                        errhint("CREATE TRIGGER ... AFTER UPDATE ON t FOR EACH ROW EXECUTE FUNCTION "
                                "dendrite.guard('model');")));
    if (!batch && !scores && !follows && !TRIGGER_FIRED_BY_DELETE(event) && !TRIGGER_FIRED_BY_TRUNCATE(event))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("%s must be fired BEFORE INSERT OR UPDATE ... FOR EACH ROW", function),
                        errdetail("With the model's name alone it may also be fired AFTER UPDATE ... FOR EACH ROW, "
                                  "and on DELETE and TRUNCATE, to keep the inline history in step with the table."),
                        errhint("For a statement-level trigger use dendrite.guard_batch.")));
    // guard_batch: AFTER INSERT ... FOR EACH STATEMENT (with a transition table, or closing a row capture),
    // or BEFORE INSERT ... FOR EACH ROW (the row capture).
    const bool statement = TRIGGER_FIRED_AFTER(event) && TRIGGER_FIRED_FOR_STATEMENT(event);
    const bool capture = TRIGGER_FIRED_BEFORE(event) && TRIGGER_FIRED_FOR_ROW(event);
    if (batch && !(TRIGGER_FIRED_BY_INSERT(event) && (statement || capture)))
        ereport(ERROR,
                (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                 errmsg("%s must be fired AFTER INSERT ... FOR EACH STATEMENT, or BEFORE INSERT ... FOR EACH ROW",
                        function),
                 errhint("CREATE TRIGGER ... AFTER INSERT ON t REFERENCING NEW TABLE AS new_rows "
                         "FOR EACH STATEMENT EXECUTE FUNCTION dendrite.guard_batch(...); or, for bulk loads, "
                         "the same function as a BEFORE INSERT ... FOR EACH ROW trigger plus an AFTER INSERT ... "
                         "FOR EACH STATEMENT trigger without REFERENCING.")));
}

// Computes the features of the row loaded into the binding (load_row or load_slot) from the inline history.
void featurize_loaded(GuardState* state, float* x) {
    const CachedFeaturizer* featurizer = state->version->featurizer;
    const engine::Featurizer* engine_featurizer = featurizer->featurizer;
    const engine::HistoryState* history = inline_history(featurizer);
    engine_call([&] { engine_featurizer->transform(state->binding.raw, history, x); });
    note_unseen_categories(&state->binding, engine_featurizer);
}

// Adds the loaded row to the inline history (for a new row, once it is scored: the offline pass's order).
void observe_row(GuardState* state) {
    const CachedFeaturizer* featurizer = state->version->featurizer;
    engine::HistoryState* history = inline_history_for_update(featurizer);
    if (!history) return;
    const engine::Featurizer* engine_featurizer = featurizer->featurizer;
    engine_call([&] { engine_featurizer->observe(state->binding.raw, history); });
}

void follow_updated_row(GuardState* state, HeapTuple old_tuple, HeapTuple new_tuple) {
    const CachedFeaturizer* featurizer = state->version->featurizer;
    const engine::Featurizer* engine_featurizer = featurizer->featurizer;
    const size_t n = engine_featurizer->history_declarations();
    auto* before = static_cast<engine::HistoryEvent*>(palloc0(sizeof(engine::HistoryEvent) * n));
    auto* after = static_cast<engine::HistoryEvent*>(palloc0(sizeof(engine::HistoryEvent) * n));
    load_row(&state->binding, old_tuple);
    engine_call([&] { engine_featurizer->history_events(state->binding.raw, before); });
    load_row(&state->binding, new_tuple);
    engine_call([&] { engine_featurizer->history_events(state->binding.raw, after); });
    bool moved = false, relabelled = false;
    for (size_t h = 0; h < n; ++h) {
        const engine::EventChange change = engine::event_change(before[h], after[h]);
        moved = moved || change == engine::EventChange::Moved;
        relabelled = relabelled || change == engine::EventChange::Relabelled;
    }
    if (moved)
        forget_inline_history(featurizer);
    else if (relabelled)
        follow_row_change(featurizer, before, after);
    pfree(before);
    pfree(after);
}

void follow_deleted_row(GuardState* state, HeapTuple old_tuple) {
    const CachedFeaturizer* featurizer = state->version->featurizer;
    const engine::Featurizer* engine_featurizer = featurizer->featurizer;
    if (!engine_featurizer->keeps_history()) return;
    auto* before = static_cast<engine::HistoryEvent*>(
        palloc0(sizeof(engine::HistoryEvent) * engine_featurizer->history_declarations()));
    load_row(&state->binding, old_tuple);
    engine_call([&] { engine_featurizer->history_events(state->binding.raw, before); });
    follow_row_change(featurizer, before, nullptr);
    pfree(before);
}

// Compared as stored (datumIsEqual): a value rewritten to an equal one of another form (numeric 1.0 as 1.00,
// a text detoasted) counts as changed, and the row is scored again, as every updated row was before.
bool model_inputs_unchanged(const GuardState* state, HeapTuple old_tuple, HeapTuple new_tuple) {
    TupleDesc descriptor = state->binding.descriptor;
    for (int i = 0; i < state->n_input_attributes; ++i) {
        const int attnum = state->input_attributes[i];
        bool old_null, new_null;
        const Datum old_value = heap_getattr(old_tuple, attnum + 1, descriptor, &old_null);
        const Datum new_value = heap_getattr(new_tuple, attnum + 1, descriptor, &new_null);
        if (old_null != new_null) return false;
        if (old_null) continue;
        const Form_pg_attribute attribute = TupleDescAttr(descriptor, attnum);
        if (!datumIsEqual(old_value, new_value, attribute->attbyval, attribute->attlen)) return false;
    }
    return true;
}

// The key of the row last loaded into the binding, as text (NULL without a key column or value).
char* key_text(const GuardState* state) {
    if (state->key_attnum < 0 || state->binding.nulls[state->key_attnum]) return nullptr;
    return key_as_text(state->key_output_function, state->key_blank_padded, state->binding.values[state->key_attnum]);
}

}  // namespace dendrite::pg
