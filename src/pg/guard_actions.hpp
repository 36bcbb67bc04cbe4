// What a guard does with a scored row: reject it (SF001), log the decision into dendrite.predictions, write
// the flag; and guard_batch's actions on a chunk of scored rows (its 'flag' an UPDATE by key, run as the
// guarded table's owner).
#pragma once

#include "pg/guard_state.hpp"

namespace dendrite::pg {

constexpr int kBatchRows = 1024;  // guard_batch featurizes, scores and acts on rows a chunk at a time

// Raises SF001 for a row whose score reached the threshold (key: the row's key as text, or NULL; reasons:
// the explanation for the DETAIL, or NULL).
[[noreturn]] void reject(const GuardState* state, double score, const char* key, const char* reasons = nullptr);
// Logs decisions, n rows (keys may hold NULLs), straight into dendrite.predictions; reasons (NULL, or per
// row a jsonb array or 0 for none) into its reasons column, which 'reasons' resolved. shadow: the scores are the
// shadow version's, logged as its decisions at its threshold (state->shadow must be set).
void log_decisions(const GuardState* state, int n, char** keys, const float* scores, const Datum* reasons = nullptr,
                   bool shadow = false);
// A flag column's value: the score (in the column's type, a numeric rounded to its typmod; -1: none) or, for a
// boolean column, whether it is over.
Datum flag_value(Oid type, int32 typmod, double score, bool over);

// The most flagged rows one flag UPDATE writes: the rows of many chunks wait for one execution (each costs an
// executor start, the table owner's rights and search_path, ~0.1 ms), within a bounded memory.
constexpr int kFlagRowsPerUpdate = 65536;

// What guard_batch does with scored rows, a chunk at a time: 'reject' raises on the first row at or above
// the threshold, 'log' records every row, 'flag' updates the flagged rows by key (an AFTER trigger cannot
// change the new rows), through one plan for the statement (SPI stays connected until end_actions), up to
// kFlagRowsPerUpdate rows an execution: the last ones when end_actions runs.
struct RowActions {
    GuardState* state;
    SPIPlanPtr flag_plan;
    Oid table_owner;        // 'flag' updates the guarded table as its owner (see flag_rows_as_table_owner)
    Datum own_transaction;  // the row capture's 'flag': this transaction's id as text (flag_update_sql)
    char** keys;            // kBatchRows, for 'log'
    // 'flag': the flagged rows waiting for the next UPDATE, their keys (copies) and their flag values. The
    // arrays (flag_capacity, grown as rows come) live in flag_memory; the values they point to in its child
    // flag_datums, reset after each UPDATE.
    MemoryContext flag_memory;
    MemoryContext flag_datums;
    Datum* flag_keys;
    Datum* flag_values[2];
    int flag_rows;
    int flag_capacity;
    int64 flagged_without_key;  // rows at or above the threshold whose key is NULL: no UPDATE can find them
};

void begin_actions(RowActions* actions, GuardState* state, Relation relation, bool own_rows_only);
// reasons: NULL, or per row the jsonb that 'log' keeps (see log_decisions).
void act_on_rows(RowActions* actions, int n, const float* scores, const Datum* key_values, const bool* key_nulls,
                 const Datum* reasons = nullptr);
// Writes the flags still waiting, and lets SPI go.
void end_actions(RowActions* actions);

}  // namespace dendrite::pg
