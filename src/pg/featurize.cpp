// dendrite.create_featurizer, dendrite.features, dendrite.observe, dendrite.featurize, dendrite.score_query.
#include "engine/featurizer.hpp"
#include "engine/fit_pipeline.hpp"
#include "engine/parallel.hpp"
#include "pg/featurize.hpp"

#include "pg/boundary.hpp"
#include "pg/cache_eviction.hpp"
#include "pg/catalog.hpp"
#include "pg/derived_columns.hpp"
#include "pg/featurizer_cache.hpp"
#include "pg/featurizer_rows.hpp"
#include "pg/query_pass.hpp"
#include "pg/row_binding.hpp"
#include "pg/privileges.hpp"
#include "pg/model_cache.hpp"
#include "pg/values.hpp"

#include <cstring>

extern "C" {
#include "access/relation.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "nodes/nodeFuncs.h"
#include "partitioning/partbounds.h"
#include "partitioning/partdesc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/partcache.h"
#include "utils/plancache.h"
#include "utils/rel.h"
}

namespace dendrite::pg {

namespace {

// The result columns of a prepared query.
TupleDesc plan_descriptor(SPIPlanPtr plan) {
    List* sources = SPI_plan_get_plan_sources(plan);
    return CreateTupleDescCopy(static_cast<CachedPlanSource*>(linitial(sources))->resultDesc);
}

// The result columns of a query, without running it.
TupleDesc query_descriptor(const char* query, const char* what) {
    SPIPlanPtr plan = prepare_select(query, what);
    TupleDesc descriptor = plan_descriptor(plan);
    SPI_freeplan(plan);
    return descriptor;
}

// The partitioned tables a query reads (views expanded), for history_across_shards.
bool collect_partitioned(Node* node, List** found) {
    if (node == nullptr) return false;
    if (IsA(node, RangeTblEntry)) {
        auto* entry = reinterpret_cast<RangeTblEntry*>(node);
        if (entry->rtekind == RTE_RELATION && entry->relkind == RELKIND_PARTITIONED_TABLE)
            *found = list_append_unique_oid(*found, entry->relid);
        return false;
    }
    auto walker = reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)()>(collect_partitioned));
    if (IsA(node, Query))
        return query_tree_walker(reinterpret_cast<Query*>(node), walker, found, QTW_EXAMINE_RTES_BEFORE);
    return expression_tree_walker(node, walker, found);
}

// A table the featurizer's query reads that is sharded as docs/scaleout.md describes: partitioned on one
// column, some partitions foreign tables (postgres_fdw shards). shards: the modulus when it is a hash
// partitioning into that many partitions of that modulus (0 otherwise: no "within": "shard" then).
struct ShardedTable {
    Oid relation;
    char* key;
    int shards;
};

ShardedTable find_sharded_table(SPIPlanPtr plan) {
    ShardedTable found{InvalidOid, nullptr, 0};
    List* partitioned = NIL;
    ListCell* cell;
    foreach (cell, SPI_plan_get_plan_sources(plan)) {
        auto* source = static_cast<CachedPlanSource*>(lfirst(cell));
        ListCell* query_cell;
        foreach (query_cell, source->query_list)
            (void)collect_partitioned(static_cast<Node*>(lfirst(query_cell)), &partitioned);
    }
    foreach (cell, partitioned) {
        const Oid relation_id = lfirst_oid(cell);
        bool has_foreign_partition = false;
        ListCell* child;
        foreach (child, find_all_inheritors(relation_id, AccessShareLock, nullptr))
            has_foreign_partition =
                has_foreign_partition || get_rel_relkind(lfirst_oid(child)) == RELKIND_FOREIGN_TABLE;
        if (!has_foreign_partition) continue;
        Relation relation = relation_open(relation_id, AccessShareLock);
        PartitionKey key = RelationGetPartitionKey(relation);
        const AttrNumber key_column = key && key->partnatts == 1 ? key->partattrs[0] : InvalidAttrNumber;
        int shards = 0;
        if (key_column != InvalidAttrNumber && key->strategy == PARTITION_STRATEGY_HASH) {
            PartitionDesc partitions = RelationGetPartitionDesc(relation, true);
            PartitionBoundInfo bounds = partitions->boundinfo;
            const int modulus = bounds && bounds->ndatums > 0 ? int(DatumGetInt32(bounds->datums[0][0])) : 0;
            bool uniform = modulus > 0 && partitions->nparts == modulus;
            for (int b = 0; uniform && b < bounds->ndatums; ++b)
                uniform = int(DatumGetInt32(bounds->datums[b][0])) == modulus;
            if (uniform) shards = modulus;
        }
        relation_close(relation, AccessShareLock);
        if (key_column == InvalidAttrNumber) continue;  // an expression or several columns: not a card shard key
        found = {relation_id, get_attname(relation_id, key_column, false), shards};
        break;
    }
    return found;
}

// A featurizer fitted on a sharded table keeps history inline on each shard, which holds only the rows of
// its own shard-key values: history of another entity (a terminal spread over every shard) is then not the
// history the featurizer was fitted on, unless the declaration is scoped "within": "shard". Said in a
// NOTICE; declarations on the shard key are exact.
void notice_history_across_shards(const ShardedTable& sharded, char** entities, int n_entities) {
    if (sharded.relation == InvalidOid) return;
    StringInfoData others;
    initStringInfo(&others);
    for (int e = 0; e < n_entities; ++e)
        if (strcmp(entities[e], sharded.key) != 0)
            appendStringInfo(&others, "%s%s", others.len ? ", " : "", entities[e]);
    if (others.len == 0) return;
    ereport(
        NOTICE,
        (errmsg("history of %s on table %s, which is sharded by %s: a guard on a shard sees only that shard's "
                "rows of each %s",
                others.data, get_rel_name(sharded.relation), sharded.key, others.data),
         errdetail("Offline the featurizer reads every shard's rows; inline each shard keeps the history of its "
                   "own rows. History on %s, the shard key, is exact on every shard.",
                   sharded.key),
         errhint("Add \"within\": \"shard\" to the declaration to key it by shard offline too (docs/scaleout.md).")));
}

// The first history declaration scoped "within" a shard whose layout is not the sharded table's (the
// table re-partitioned since the featurizer was fitted, or the declaration written for another table), or
// NULL. Offline such history would be keyed by shards the rows do not live on, unlike any shard's inline
// history. No table sharded as docs/scaleout.md describes: nothing to compare (a shard's own rows, a copy).
const engine::HistorySpec* misscoped_declaration(const std::vector<engine::HistorySpec>& declarations,
                                                 const ShardedTable& sharded) {
    if (sharded.relation == InvalidOid) return nullptr;
    for (const engine::HistorySpec& h : declarations)
        if (h.within_shards > 0 && (h.within_shards != sharded.shards || h.within_key != sharded.key)) return &h;
    return nullptr;
}

void misscoped_error(const char* featurizer, const char* declaration, int within_shards, const char* within_key,
                     const ShardedTable& sharded) {
    ereport(ERROR,
            (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
             errmsg("featurizer \"%s\" keeps the history of %s within %d shards by %s, but table %s is sharded %s",
                    featurizer, declaration, within_shards, within_key, get_rel_name(sharded.relation),
                    sharded.shards > 0 ? psprintf("into %d by %s", sharded.shards, sharded.key)
                                       : psprintf("by %s, not into equal hash partitions", sharded.key)),
             errdetail("Its offline features would not be what each shard computes inline."),
             errhint("Fit a new version of the featurizer on the table as it is now, and retrain the models that "
                     "use it (docs/scaleout.md).")));
}

}  // namespace

void check_shard_layout(const CachedFeaturizer* featurizer, const char* query) {
    // Declarations scoped "within" a shard have a derived entity column, which an anomaly model's
    // featurizer never has: the featurizer's own declarations are all there is to check.
    const std::vector<engine::HistorySpec>& declarations = featurizer->featurizer->spec().history;
    bool scoped = false;
    for (const engine::HistorySpec& h : declarations) scoped = scoped || h.within_shards > 0;
    if (!scoped) return;
    SPIPlanPtr plan = prepare_select(query, "query");
    const ShardedTable sharded = find_sharded_table(plan);
    SPI_freeplan(plan);
    if (const engine::HistorySpec* h = misscoped_declaration(declarations, sharded))
        misscoped_error(featurizer->name, h->name.c_str(), h->within_shards, h->within_key.c_str(), sharded);
}

void check_query_columns(TupleDesc descriptor, const char* label) {
    bool label_found = false;
    for (int i = 0; i < descriptor->natts; ++i) {
        Form_pg_attribute a = TupleDescAttr(descriptor, i);
        if (a->attisdropped) continue;
        for (int j = 0; j < i; ++j)
            if (!TupleDescAttr(descriptor, j)->attisdropped &&
                strcmp(NameStr(a->attname), NameStr(TupleDescAttr(descriptor, j)->attname)) == 0)
                ereport(ERROR, (errcode(ERRCODE_DUPLICATE_COLUMN),
                                errmsg("column \"%s\" appears more than once in the query", NameStr(a->attname)),
                                errhint("Give every column a distinct name with AS.")));
        label_found |= label && strcmp(NameStr(a->attname), label) == 0;
    }
    if (label && !label_found)
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
                        errmsg("label column \"%s\" is not in the result of the query", label)));
}

TupleDesc describe_query(const char* query, const char* what) { return query_descriptor(query, what); }

namespace {

char* jsonb_argument(FunctionCallInfo fcinfo, int argument) {
    if (PG_ARGISNULL(argument)) return nullptr;
    return DatumGetCString(DirectFunctionCall1(jsonb_out, PG_GETARG_DATUM(argument)));
}

char* text_argument_or_null(FunctionCallInfo fcinfo, int argument) {
    return PG_ARGISNULL(argument) ? nullptr : text_to_cstring(PG_GETARG_TEXT_PP(argument));
}

// What a sample of the query's rows says about its text, integer and timestamp columns (engine's
// ColumnProfile, in palloc'd memory): the automatic featurization looks at the data, not at types alone.
struct SampledColumn {
    char* name;
    int64 non_null, distinct;
    double with_space, mean_length, min_value;
    const char* sql_type;
};

constexpr int kProfileSampleRows = 50000;

// One statement over the first kProfileSampleRows rows of the query (the caller's, or the active stored
// query's rights, as every pass over it).
SampledColumn* sample_columns(const char* query, TupleDesc descriptor, const char* label, int* n_sampled) {
    *n_sampled = 0;
    SampledColumn* sampled = static_cast<SampledColumn*>(palloc0(sizeof(SampledColumn) * (descriptor->natts + 1)));
    StringInfoData select;
    initStringInfo(&select);
    for (int i = 0; i < descriptor->natts; ++i) {
        Form_pg_attribute attribute = TupleDescAttr(descriptor, i);
        const Oid type = getBaseType(attribute->atttypid);
        const engine::SqlTypeClass type_kind = type_class(type);
        if (attribute->attisdropped || (label && strcmp(NameStr(attribute->attname), label) == 0)) continue;
        const char* column = quote_identifier(NameStr(attribute->attname));
        if (type_kind == engine::SqlTypeClass::Text)
            appendStringInfo(&select,
                             "%scount(%s), count(DISTINCT %s), avg((strpos(%s::text, ' ') > 0)::int)::float8, "
                             "avg(length(%s::text))::float8, NULL::float8",
                             select.len ? ", " : "", column, column, column, column);
        else if (type_kind == engine::SqlTypeClass::Integer)
            appendStringInfo(&select, "%scount(%s), count(DISTINCT %s), NULL::float8, NULL::float8, min(%s)::float8",
                             select.len ? ", " : "", column, column, column);
        else if (type_kind == engine::SqlTypeClass::Timestamp)
            appendStringInfo(&select, "%scount(%s), count(DISTINCT %s), NULL::float8, NULL::float8, NULL::float8",
                             select.len ? ", " : "", column, column);
        else
            continue;
        SampledColumn& s = sampled[(*n_sampled)++];
        s.name = pstrdup(NameStr(attribute->attname));
        s.sql_type = type == DATEOID          ? "date"
                     : type == TIMESTAMPOID   ? "timestamp"
                     : type == TIMESTAMPTZOID ? "timestamptz"
                                              : "";
    }
    if (*n_sampled == 0) return sampled;
    struct Reading {
        SampledColumn* sampled;
        int n;
    } reading{sampled, *n_sampled};
    RowVisitor visitor{nullptr,
                       [](void* context, TupleTableSlot* slot) {
                           auto* r = static_cast<Reading*>(context);
                           for (int c = 0; c < r->n; ++c) {
                               const int at = 5 * c;
                               r->sampled[c].non_null = DatumGetInt64(slot->tts_values[at]);
                               r->sampled[c].distinct = DatumGetInt64(slot->tts_values[at + 1]);
                               if (!slot->tts_isnull[at + 2])
                                   r->sampled[c].with_space = DatumGetFloat8(slot->tts_values[at + 2]);
                               if (!slot->tts_isnull[at + 3])
                                   r->sampled[c].mean_length = DatumGetFloat8(slot->tts_values[at + 3]);
                               if (!slot->tts_isnull[at + 4])
                                   r->sampled[c].min_value = DatumGetFloat8(slot->tts_values[at + 4]);
                           }
                       },
                       &reading};
    select_rows(psprintf("SELECT %s FROM (SELECT * FROM (%s\n) AS dendrite_query LIMIT %d) AS dendrite_sample",
                         select.data, query, kProfileSampleRows),
                "sample of the query's rows", visitor);
    return sampled;
}

// One anomaly declaration, resolved to the version it pins and the columns that version's featurizer reads.
struct AnomalyDeclaration {
    char* name;
    char* model;
    int version;
    int n_inputs;
    char** inputs;
    engine::SqlTypeClass* input_types;
    const std::vector<engine::HistorySpec>* history;  // the autoencoder featurizer's (cached for the transaction)
};

// create_featurizer's anomaly argument (NULL: none), each declaration resolved to a version of an autoencoder
// (0: the one serving now) whose featurizer computes its features from the row's own columns. nonfinite: this
// featurizer's policy, which also reads the autoencoder's history values (kept in this featurizer's state).
AnomalyDeclaration* resolve_anomaly_declarations(const char* anomaly_json, const char* nonfinite, int* n) {
    AnomalyDeclaration* declarations = nullptr;
    *n = 0;
    engine_call([&] {
        const std::vector<engine::AnomalySpec> parsed = engine::parse_anomaly(anomaly_json ? anomaly_json : "");
        declarations =
            static_cast<AnomalyDeclaration*>(palloc_or_throw(sizeof(AnomalyDeclaration) * (parsed.size() + 1)));
        for (const engine::AnomalySpec& a : parsed)
            declarations[(*n)++] = {
                pstrdup_or_throw(a.name), pstrdup_or_throw(a.model), a.version, 0, nullptr, nullptr, nullptr};
    });
    for (int a = 0; a < *n; ++a) {
        AnomalyDeclaration& d = declarations[a];
        const CachedVersion* version = model_version(d.model, d.version);
        if (version->scorer.kind != engine::ModelView::Kind::Autoencoder)
            ereport(ERROR,
                    (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("model \"%s\" is not an autoencoder", d.model),
                     errdetail("Anomaly feature \"%s\" needs version %d to be trained with algorithm => "
                               "'autoencoder'.",
                               d.name, version->version)));
        const CachedFeaturizer* featurizer = version->featurizer;
        const engine::FeaturizerSpec& spec = featurizer->featurizer->spec();
        if (!spec.derived.empty() || !spec.anomaly.empty())
            ereport(ERROR,
                    (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                     errmsg("version %d of autoencoder \"%s\" cannot be an anomaly feature: its featurizer \"%s\" "
                            "has %s",
                            version->version, d.model, featurizer->name,
                            !spec.derived.empty() ? "derived columns" : "anomaly features"),
                     errdetail("An anomaly feature is computed from the row's columns by the autoencoder's "
                               "featurizer, the same way in every query and guard."),
                     errhint("Train the autoencoder on a featurizer without them (compute a derived column in its "
                             "query instead).")));
        // Its history events are read by this featurizer: a NaN value must mean what it meant in training.
        const bool missing = strcmp(nonfinite, "missing") == 0;
        if (!spec.history.empty() && spec.nonfinite_as_missing != missing)
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                            errmsg("the autoencoder \"%s\" (version %d) was fitted with nonfinite => '%s', this "
                                   "featurizer with '%s'",
                                   d.model, version->version, spec.nonfinite_as_missing ? "missing" : "error",
                                   missing ? "missing" : "error"),
                            errdetail("This featurizer keeps the autoencoder's history, and reads NaN and Infinity "
                                      "in it by its own policy."),
                            errhint("Create the featurizer with nonfinite => '%s'.",
                                    spec.nonfinite_as_missing ? "missing" : "error")));
        d.version = version->version;
        d.n_inputs = featurizer->n_inputs;
        d.inputs = featurizer->input_names;
        d.input_types = featurizer->input_types;
        d.history = &spec.history;
    }
    return declarations;
}

}  // namespace

int64 fit_featurizer(const char* name, const char* query, const char* columns_json, const char* history_json,
                     const char* derived_json, const char* label, const char* nonfinite, Timestamp since,
                     const char* history_query, const char* what, const FitObserver* observer,
                     const char* anomaly_json) {
    require_featurizer_manager(name);  // a new version of someone else's featurizer: refused before any row is read
    // Prepared once: its result columns, and the sharded table it reads (analysed, views expanded).
    SPIPlanPtr plan = prepare_select(query, what);
    TupleDesc descriptor = plan_descriptor(plan);
    const ShardedTable sharded = find_sharded_table(plan);
    SPI_freeplan(plan);
    check_query_columns(descriptor, label);
    const int n_columns = descriptor->natts;
    char** column_names = static_cast<char**>(palloc(sizeof(char*) * (n_columns + 1)));
    engine::SqlTypeClass* column_types =
        static_cast<engine::SqlTypeClass*>(palloc(sizeof(engine::SqlTypeClass) * (n_columns + 1)));
    Oid* column_base_types = static_cast<Oid*>(palloc(sizeof(Oid) * (n_columns + 1)));
    int n_live = 0;
    for (int i = 0; i < n_columns; ++i) {
        Form_pg_attribute attribute = TupleDescAttr(descriptor, i);
        if (attribute->attisdropped) continue;
        column_names[n_live] = pstrdup(NameStr(attribute->attname));
        column_base_types[n_live] = getBaseType(attribute->atttypid);
        column_types[n_live] = type_class(column_base_types[n_live]);
        ++n_live;
    }

    // Derived columns: declared, then analysed over the query's rows for their types (the caller's rights:
    // the caller is their author).
    DerivedDeclarations derived{0, nullptr, nullptr, InvalidOid, nullptr};
    engine::SqlTypeClass* derived_types = nullptr;
    engine_call([&] {
        const std::vector<engine::DerivedColumn> declared = engine::parse_derived(derived_json ? derived_json : "");
        derived.n = int(declared.size());
        derived.names = static_cast<char**>(palloc_or_throw(sizeof(char*) * (declared.size() + 1)));
        derived.expressions = static_cast<char**>(palloc_or_throw(sizeof(char*) * (declared.size() + 1)));
        for (size_t k = 0; k < declared.size(); ++k) {
            derived.names[k] = pstrdup_or_throw(declared[k].name);
            derived.expressions[k] = pstrdup_or_throw(declared[k].expression);
        }
    });
    derived_types = static_cast<engine::SqlTypeClass*>(palloc(sizeof(engine::SqlTypeClass) * (derived.n + 1)));
    // The declared ones' result types (the list below becomes the spec's, automatic ones added).
    const int n_declared = derived.n;
    char** declared_names = derived.names;
    Oid* derived_base_types = static_cast<Oid*>(palloc(sizeof(Oid) * (derived.n + 1)));
    for (int k = 0; k < derived.n; ++k) {
        Expr* analysed = analyse_derived_column(name, derived.names[k], derived.expressions[k], descriptor);
        derived_base_types[k] = getBaseType(exprType(reinterpret_cast<Node*>(analysed)));
        derived_types[k] = type_class(derived_base_types[k]);
    }

    int n_sampled = 0;
    SampledColumn* sampled = sample_columns(query, descriptor, label, &n_sampled);
    int n_anomaly = 0;
    AnomalyDeclaration* anomaly = resolve_anomaly_declarations(anomaly_json, nonfinite, &n_anomaly);

    engine::FeaturizerFitter* fitter = nullptr;
    engine::FeaturizerSpec* spec_for_restart = nullptr;  // with history and no observer: a read can start over
    char** input_names = nullptr;
    int n_inputs = 0;
    char* time_column = nullptr;
    char* automatic_choices = nullptr;
    char** history_entities = nullptr;  // of the declarations not scoped "within" a shard
    char* misscoped_name = nullptr;     // a declaration scoped "within" another layout than the table's
    char* misscoped_key = nullptr;
    int misscoped_shards = 0;
    int n_history_entities = 0;
    engine_call([&] {
        engine::ShardLayout layout;
        if (sharded.shards > 0) layout = {sharded.key, sharded.shards};
        std::vector<engine::InputColumn> columns;
        for (int i = 0; i < n_live; ++i) columns.push_back({column_names[i], column_types[i]});
        std::vector<engine::DerivedColumn> derived_columns;
        for (int k = 0; k < derived.n; ++k)
            derived_columns.push_back({derived.names[k], derived.expressions[k], derived_types[k]});
        std::vector<engine::ColumnProfile> profiles;
        for (int c = 0; c < n_sampled; ++c) {
            const SampledColumn& s = sampled[c];
            profiles.push_back({s.name, s.non_null, s.distinct, s.with_space, s.mean_length, s.min_value, s.sql_type});
        }
        std::vector<engine::AnomalySpec> anomaly_specs;
        for (int a = 0; a < n_anomaly; ++a) {
            const AnomalyDeclaration& d = anomaly[a];
            anomaly_specs.push_back({d.name,
                                     d.model,
                                     d.version,
                                     {d.inputs, d.inputs + d.n_inputs},
                                     {d.input_types, d.input_types + d.n_inputs},
                                     *d.history});
        }
        engine::FeaturizerSpec spec = engine::resolve_spec(
            columns, columns_json ? columns_json : "", history_json ? history_json : "", label ? label : "", nonfinite,
            derived_columns, profiles, sharded.shards > 0 ? &layout : nullptr, anomaly_specs);
        // The spec's derived columns are the declared ones and those the automatic choices added (ages, a
        // distance, a composite entity): the pass computes them all.
        derived.n = int(spec.derived.size());
        derived.names = static_cast<char**>(palloc_or_throw(sizeof(char*) * (spec.derived.size() + 1)));
        derived.expressions = static_cast<char**>(palloc_or_throw(sizeof(char*) * (spec.derived.size() + 1)));
        derived_types = static_cast<engine::SqlTypeClass*>(
            palloc_or_throw(sizeof(engine::SqlTypeClass) * (spec.derived.size() + 1)));
        for (size_t k = 0; k < spec.derived.size(); ++k) {
            derived.names[k] = pstrdup_or_throw(spec.derived[k].name);
            derived.expressions[k] = pstrdup_or_throw(spec.derived[k].expression);
            derived_types[k] = spec.derived[k].type;
        }
        const std::string choices = engine::describe_automatic_choices(spec);
        if (!choices.empty()) automatic_choices = pstrdup_or_throw(choices);
        const std::string event_time = spec.event_time();
        if (!event_time.empty()) time_column = pstrdup_or_throw(event_time);
        const std::vector<engine::HistorySpec> all_history = spec.all_history();
        if (const engine::HistorySpec* h = misscoped_declaration(spec.history, sharded)) {
            misscoped_name = pstrdup_or_throw(h->name);
            misscoped_key = pstrdup_or_throw(h->within_key);
            misscoped_shards = h->within_shards;
        }
        history_entities = static_cast<char**>(palloc_or_throw(sizeof(char*) * (all_history.size() + 1)));
        for (const engine::HistorySpec& declaration : all_history)
            if (declaration.within_shards == 0)
                history_entities[n_history_entities++] = pstrdup_or_throw(declaration.entity);
        std::unique_ptr<engine::FeaturizerSpec> restart_copy;
        if (!observer && !event_time.empty()) restart_copy = std::make_unique<engine::FeaturizerSpec>(spec);
        auto owned = std::make_unique<engine::FeaturizerFitter>(std::move(spec));
        n_inputs = int(owned->inputs().size());
        input_names = static_cast<char**>(palloc_or_throw(sizeof(char*) * (n_inputs + 1)));
        for (int j = 0; j < n_inputs; ++j) {
            const std::string& input = owned->inputs()[j];
            input_names[j] = static_cast<char*>(palloc_or_throw(input.size() + 1));
            memcpy(input_names[j], input.c_str(), input.size() + 1);
        }
        fitter = owned.release();
        spec_for_restart = restart_copy.release();
    });
    // The fitter (and below its pipeline) in a context of its own: a read that starts over, sorted, resets it.
    MemoryContext attempt_context =
        AllocSetContextCreate(CurrentMemoryContext, "dendrite featurizer fit", ALLOCSET_SMALL_SIZES);
    own_in_context(attempt_context, fitter);
    if (spec_for_restart) own_in_context(CurrentMemoryContext, spec_for_restart);
    if (misscoped_name) misscoped_error(name, misscoped_name, misscoped_shards, misscoped_key, sharded);
    if (automatic_choices)
        ereport(NOTICE, (errmsg("automatic choices from the data: %s", automatic_choices),
                         errhint("Override any of them with columns => '{\"column\": \"kind\"}'; they are kept in "
                                 "dendrite.featurizers.spec->'automatic'.")));
    notice_history_across_shards(sharded, history_entities, n_history_entities);
    if (since != DT_NOBEGIN && !time_column)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("since needs history features"),
                        errhint("Without history, filter the rows in the query instead.")));

    // Columns that feed nothing are named once, so that a typo in a spec does not go unnoticed.
    StringInfoData ignored;
    initStringInfo(&ignored);
    // Each input's type as stored (fitted_type_name): a column's or a declared derived column's from its base
    // type; an automatic derived column's (an age, a distance, a composite entity) from its class.
    const char** input_types = static_cast<const char**>(palloc0(sizeof(char*) * (n_inputs + 1)));
    for (int i = 0; i < n_live; ++i) {
        bool used = false;
        for (int j = 0; j < n_inputs; ++j)
            if (strcmp(input_names[j], column_names[i]) == 0) {
                used = true;
                input_types[j] = fitted_type_name(column_base_types[i]);
            }
        if (!used) appendStringInfo(&ignored, "%s%s", ignored.len ? ", " : "", column_names[i]);
    }
    for (int k = 0; k < derived.n; ++k) {
        bool used = false;
        for (int j = 0; j < n_inputs; ++j)
            if (strcmp(input_names[j], derived.names[k]) == 0) {
                used = true;
                input_types[j] = type_class_name(derived_types[k]);
                for (int d = 0; d < n_declared; ++d)
                    if (strcmp(declared_names[d], derived.names[k]) == 0)
                        input_types[j] = fitted_type_name(derived_base_types[d]);
            }
        if (!used) appendStringInfo(&ignored, "%s%s", ignored.len ? ", " : "", derived.names[k]);
    }
    if (ignored.len) ereport(NOTICE, (errmsg("columns not used as features: %s", ignored.data)));

    const int64 since_us = engine_since(since);
    int time_index = -1;
    for (int j = 0; time_column && j < n_inputs; ++j)
        if (strcmp(input_names[j], time_column) == 0) time_index = j;

    // The fit's statistics are gathered on a helper thread while this one reads (the same numbers: the rows
    // reach the fitter in the order they were read), unless the caller may use one thread only. Chunks in
    // flight are bounded, so that a fast read of a slow fit (history over many entities) holds a few
    // megabytes, not the query's rows. The pipeline is owned after the fitter: an error deletes it first.
    constexpr size_t kFitChunksInFlight = 4;
    const int threads = observer && observer->threads > 0 ? observer->threads : engine::WorkerPool::hardware_threads();
    engine::PipelinedFit* pipeline = create_owned<engine::PipelinedFit>(
        attempt_context, [&] { return new engine::PipelinedFit(*fitter, threads > 1); });
    struct Fit {
        engine::FeaturizerFitter* fitter;
        engine::PipelinedFit* pipeline;
        int n_inputs;
        char** input_names;
        const char* name;
        const DerivedDeclarations* derived;
        int time_index;
        int64 since_us;
        int64 rows;
        RowBinding binding;
        MemoryContext pass_context;
        const FitObserver* observer;
        TimeOrderedRead read;
        MemoryContext attempt_context;
        const engine::FeaturizerSpec* spec;
        bool use_helper;
    } fit{fitter,           pipeline,   n_inputs, input_names,          name,     &derived, time_index,
          since_us,         0,          {},       CurrentMemoryContext, observer, {},       attempt_context,
          spec_for_restart, threads > 1};
    RowVisitor visitor{[](void* context, TupleDesc descriptor, double estimated_rows) {
                           auto* f = static_cast<Fit*>(context);
                           bind_inputs(&f->binding, f->n_inputs, f->input_names, nullptr, nullptr, f->derived, f->name,
                                       0, descriptor, f->pass_context);
                           if (f->observer) {
                               const size_t reserve =
                                   f->observer->start(f->observer->context, descriptor, estimated_rows, f->n_inputs);
                               if (f->observer->kept) engine_call([&] { f->pipeline->keep_rows(reserve); });
                           }
                       },
                       [](void* context, TupleTableSlot* slot) {
                           auto* f = static_cast<Fit*>(context);
                           load_slot(&f->binding, slot);
                           const engine::RawValue* raw = f->binding.raw;
                           if (f->time_index >= 0 && !f->read.admits(raw[f->time_index])) return;
                           const bool counted = at_or_after_since(raw, f->time_index, f->since_us);
                           bool handed_over = false;
                           engine_call([&] { handed_over = f->pipeline->add(raw, counted); });
                           if (handed_over)
                               while (!f->pipeline->wait_until_in_flight_at_most(kFitChunksInFlight, 10000))
                                   CHECK_FOR_INTERRUPTS();
                           f->rows += counted;
                           if (counted && f->observer) f->observer->row(f->observer->context, raw, slot);
                       },
                       &fit, &fit.read.stop};
    // Rows that come in time order are fitted as they come (no sort); from the first that does not, the fit
    // starts over from a new fitter, reading the query sorted (select_rows_in_time_order).
    auto start_over = [](void* context) {
        auto* f = static_cast<Fit*>(context);
        MemoryContextReset(f->attempt_context);  // the pipeline (its helper stopped), then the fitter
        f->fitter = create_owned<engine::FeaturizerFitter>(f->attempt_context,
                                                           [&] { return new engine::FeaturizerFitter(*f->spec); });
        f->pipeline = create_owned<engine::PipelinedFit>(
            f->attempt_context, [&] { return new engine::PipelinedFit(*f->fitter, f->use_helper); });
        f->rows = 0;
    };
    select_rows_in_time_order(query, time_column, what, visitor, &fit.read,
                              spec_for_restart && time_index >= 0 ? +start_over : nullptr, &fit);
    pipeline = fit.pipeline;
    fitter = fit.fitter;
    while (!pipeline->wait_until_in_flight_at_most(0, 10000)) CHECK_FOR_INTERRUPTS();
    engine_call([&] { pipeline->finish(); });  // the last chunk; an error a row raised
    if (observer && observer->kept) {
        engine::RawRows* kept = nullptr;
        engine_call([&] { kept = pipeline->take_kept_rows().release(); });
        observer->kept(observer->context, kept);
    }
    const int64 rows = fit.rows;
    if (rows == 0)
        ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("the %s returned no rows", what),
                        since != DT_NOBEGIN ? errhint("No row is at or after since.") : 0));

    // A history query is stored and later run as this featurizer's owner (the caller): its author must be
    // able to run it now. Planned and started, not run: LIMIT 0 checks the privileges on its tables and
    // functions without reading a row.
    if (history_query) {
        RowVisitor nothing{nullptr, [](void*, TupleTableSlot*) {}, nullptr};
        select_rows(psprintf("SELECT * FROM (%s\n) AS dendrite_history_query LIMIT 0", history_query), "history query",
                    nothing);
    }

    engine::Featurizer* featurizer = nullptr;
    engine_call([&] { featurizer = new engine::Featurizer(fitter->finish()); });
    own_in_context(CurrentMemoryContext, featurizer);
    return store_featurizer(name, query, history_query, *featurizer, input_types, rows);
}

Timestamp since_argument(FunctionCallInfo fcinfo, int argument) {
    if (PG_ARGISNULL(argument)) return DT_NOBEGIN;
    const Timestamp since = PG_GETARG_TIMESTAMP(argument);
    if (TIMESTAMP_NOT_FINITE(since))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("since must be a finite timestamp")));
    return since;
}

}  // namespace dendrite::pg

using namespace dendrite;
using namespace dendrite::pg;

namespace {

// Per call site of features/observe: the featurizer resolved once per statement and the row binding.
struct RowState {
    char* name;
    const CachedFeaturizer* featurizer;
    RowBinding binding;
    bool bound;
    float* out;
    StatePins pins;  // on every featurizer this call site resolved (it may outlive the transaction)
};

// The call site's state, with the row loaded into its binding.
RowState* row_state(FunctionCallInfo fcinfo, const char* name, HeapTupleHeader row) {
    auto* state = static_cast<RowState*>(fcinfo->flinfo->fn_extra);
    MemoryContext context = fcinfo->flinfo->fn_mcxt;
    if (!state || strcmp(state->name, name) != 0) {
        if (!state) state = static_cast<RowState*>(MemoryContextAllocZero(context, sizeof(RowState)));
        state->featurizer = latest_featurizer(name);
        if (state->pins.first_time(state->featurizer)) pin_featurizer(state->featurizer, context);
        state->name = MemoryContextStrdup(context, name);
        state->out =
            static_cast<float*>(MemoryContextAlloc(context, sizeof(float) * (state->featurizer->n_outputs + 1)));
        state->bound = false;
        fcinfo->flinfo->fn_extra = state;
    }
    load_composite(&state->binding, &state->bound, state->featurizer, row, context);
    return state;
}

void require_row_argument(FunctionCallInfo fcinfo, const char* function) {
    const Oid argument_type = get_fn_expr_argtype(fcinfo->flinfo, 1);
    if (!type_is_rowtype(argument_type))
        ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
                        errmsg("%s needs a row, got %s", function, format_type_be(argument_type)),
                        errhint("Pass the table alias, as in SELECT %s('name', t) FROM t.", function)));
}

void emit_features(void* context, const float* features, TupleTableSlot*) {
    auto* s = static_cast<KeyedOutput*>(context);
    MemoryContext old = MemoryContextSwitchTo(s->row_context);
    emit_queued_row(s, PointerGetDatum(float4_array(features, size_t(s->n_outputs))));
    MemoryContextSwitchTo(old);
    MemoryContextReset(s->row_context);
}

}  // namespace

DENDRITE_FUNCTION(dendrite_create_featurizer) {
    refuse_on_replica_catalog("create a featurizer");
    char* name = required_text_argument(fcinfo, 0, "name");
    char* query = required_text_argument(fcinfo, 1, "query");
    char* columns = jsonb_argument(fcinfo, 2);
    char* history = jsonb_argument(fcinfo, 3);
    char* label = text_argument_or_null(fcinfo, 4);
    char* nonfinite = required_text_argument(fcinfo, 5, "nonfinite");
    const Timestamp since = since_argument(fcinfo, 6);
    char* history_query = text_argument_or_null(fcinfo, 7);
    char* derived = PG_NARGS() > 8 ? jsonb_argument(fcinfo, 8) : nullptr;  // since 0.6.0
    char* anomaly = PG_NARGS() > 9 ? jsonb_argument(fcinfo, 9) : nullptr;  // since 0.6.0
    if (name[0] == '\0')
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("featurizer name must not be empty")));
    connect_spi();
    const int64 featurizer_id = fit_featurizer(name, query, columns, history, derived, label, nonfinite, since,
                                               history_query, "featurizer query", nullptr, anomaly);
    Datum id[1] = {Int64GetDatum(featurizer_id)};
    const int version = int(query_int64_as_owner("SELECT version FROM dendrite.featurizers WHERE featurizer_id = $1", 1,
                                                 oids({INT8OID}), id));
    finish_spi();
    PG_RETURN_INT32(version);
}

DENDRITE_FUNCTION(dendrite_features) {
    char* name = text_to_cstring(PG_GETARG_TEXT_PP(0));
    require_row_argument(fcinfo, "dendrite.features");
    HeapTupleHeader row = PG_GETARG_HEAPTUPLEHEADER(1);
    RowState* state = row_state(fcinfo, name, row);
    const engine::HistoryState* history = inline_history(state->featurizer);
    const engine::Featurizer* featurizer = state->featurizer->featurizer;
    engine_call([&] { featurizer->transform(state->binding.raw, history, state->out); });
    note_unseen_categories(&state->binding, featurizer);
    PG_RETURN_ARRAYTYPE_P(float4_array(state->out, size_t(state->featurizer->n_outputs)));
}

DENDRITE_FUNCTION(dendrite_observe) {
    char* name = text_to_cstring(PG_GETARG_TEXT_PP(0));
    require_row_argument(fcinfo, "dendrite.observe");
    HeapTupleHeader row = PG_GETARG_HEAPTUPLEHEADER(1);
    RowState* state = row_state(fcinfo, name, row);
    engine::HistoryState* history = inline_history_for_update(state->featurizer);
    if (!history)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("featurizer \"%s\" has no history features to observe", name)));
    const engine::Featurizer* featurizer = state->featurizer->featurizer;
    engine_call([&] {
        // This session's state only: the shared history carries rows a guard saw inserted into a table, never a
        // scorer's arbitrary row (which could otherwise change what every session's guards count).
        const engine::UnjournaledScope unjournaled(history);
        featurizer->observe(state->binding.raw, history);
    });
    PG_RETURN_VOID();
}

DENDRITE_FUNCTION(dendrite_featurize) {
    char* name = required_text_argument(fcinfo, 0, "featurizer");
    char* query = required_text_argument(fcinfo, 1, "query");
    KeyedOutput emit{};
    const Timestamp since = since_argument(fcinfo, 3);
    start_keyed_output(fcinfo, &emit, text_argument_or_null(fcinfo, 2));
    emit.row_context = AllocSetContextCreate(CurrentMemoryContext, "featurize row", ALLOCSET_DEFAULT_SIZES);
    const CachedFeaturizer* featurizer = latest_featurizer(name);
    emit.n_outputs = featurizer->n_outputs;
    connect_spi();
    // Featurized on a helper thread while the rows are read (the same features); keys queued as rows are read.
    const PipelinedEmit pipelined{queue_row_key};
    offline_pass(
        featurizer, query, since, emit_features, &emit, nullptr, nullptr,
        [](void* context) { clear_keyed_output(static_cast<KeyedOutput*>(context)); }, &pipelined);
    finish_spi();
    return (Datum)0;
}
