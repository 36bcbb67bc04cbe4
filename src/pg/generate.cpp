// dendrite.generate_transactions: the demo's data, from the engine's generator.
#include "engine/generator.hpp"
#include "pg/boundary.hpp"
#include "pg/settings.hpp"

#include <algorithm>
#include <cstdio>

using namespace dendrite;
using namespace dendrite::pg;

DENDRITE_FUNCTION(dendrite_generate_transactions) {
    // Plain values here: the options (which hold a std::function) live only inside engine_call, as no
    // object with a destructor may be jumped over by an ERROR.
    const int customers = PG_GETARG_INT32(0), terminals = PG_GETARG_INT32(1), days = PG_GETARG_INT32(2);
    const uint64_t seed = uint64_t(PG_GETARG_INT64(3));
    const Timestamp start = PG_GETARG_TIMESTAMP(4);
    if (TIMESTAMP_NOT_FINITE(start))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("start_time must be finite")));
    // Card testing from this time's day on ('infinity': never; before start_time: from the first day).
    int card_testing_from_day = -1;
    if (PG_NARGS() > 5) {
        const Timestamp from = PG_GETARG_TIMESTAMP(5);
        if (TIMESTAMP_IS_NOBEGIN(from) || (!TIMESTAMP_NOT_FINITE(from) && from <= start))
            card_testing_from_day = 0;
        else if (!TIMESTAMP_NOT_FINITE(from))
            card_testing_from_day = int(std::min<int64>((from - start) / USECS_PER_DAY, 1 << 30));
    }

    // Generate in the engine and copy into palloc'd memory before leaving engine_call. Cancel and
    // statement_timeout stop it within a few thousand customers; its memory stays within
    // dendrite.training_memory (53200 before anything is generated otherwise).
    engine::Transaction* transactions = nullptr;
    size_t count = 0;
    engine_call([&] {
        engine::GeneratorOptions options;
        options.customers = customers;
        options.terminals = terminals;
        options.days = days;
        options.seed = seed;
        options.card_testing_from_day = card_testing_from_day;
        options.should_stop = [] { return QueryCancelPending || ProcDiePending; };
        options.memory_limit_bytes = size_t(training_memory_kb) * 1024;
        const auto generated = engine::generate_transactions(options);
        count = generated.size();
        transactions = static_cast<engine::Transaction*>(
            palloc_or_throw(sizeof(engine::Transaction) * std::max<size_t>(count, 1)));
        std::copy(generated.begin(), generated.end(), transactions);
    });
    CHECK_FOR_INTERRUPTS();

    InitMaterializedSRF(fcinfo, 0);
    ReturnSetInfo* result = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    const auto& countries = engine::generator_countries();
    const auto& categories = engine::generator_merchant_categories();
    MemoryContext row_context =
        AllocSetContextCreate(CurrentMemoryContext, "generate_transactions row", ALLOCSET_DEFAULT_SIZES);
    for (size_t i = 0; i < count; ++i) {
        if ((i & 4095) == 0) CHECK_FOR_INTERRUPTS();
        MemoryContext old = MemoryContextSwitchTo(row_context);
        const engine::Transaction& tx = transactions[i];
        char text[64];
        Datum values[11];
        bool nulls[11] = {};
        values[0] = Int64GetDatum(tx.transaction_id);
        values[1] = TimestampGetDatum(start + tx.seconds * USECS_PER_SEC);
        values[2] = Int32GetDatum(tx.customer_id);
        values[3] = Int32GetDatum(tx.terminal_id);
        snprintf(text, sizeof text, "%.2f", tx.amount);
        values[4] = DirectFunctionCall3(numeric_in, CStringGetDatum(text), ObjectIdGetDatum(InvalidOid),
                                        Int32GetDatum(((12 << 16) | 2) + VARHDRSZ));
        values[5] = BoolGetDatum(tx.online);
        if (tx.ipv4) {
            snprintf(text, sizeof text, "%u.%u.%u.%u", tx.ipv4 >> 24, (tx.ipv4 >> 16) & 255, (tx.ipv4 >> 8) & 255,
                     tx.ipv4 & 255);
            values[6] = DirectFunctionCall1(inet_in, CStringGetDatum(text));
        } else {
            nulls[6] = true;
        }
        values[7] = CStringGetTextDatum(countries[tx.country]);
        values[8] = CStringGetTextDatum(categories[tx.merchant_category]);
        values[9] = BoolGetDatum(tx.fraud);
        values[10] = Int32GetDatum(int(tx.scenario));
        tuplestore_putvalues(result->setResult, result->setDesc, values, nulls);
        MemoryContextSwitchTo(old);
        MemoryContextReset(row_context);
    }
    return (Datum)0;
}
