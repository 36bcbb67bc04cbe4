// dendritectl: dendrite from the shell, over libpq. Loads CSV files with COPY, trains, compares, deploys,
// retrains, prints a model's health and writes its report, with a progress bar on loads and trainings.
// Connects like psql: -d CONNINFO, or the PG* environment variables. Every value reaches the server as
// a quoted literal (PQescapeLiteral); nothing typed by the user is spliced into SQL as code.
#include <libpq-fe.h>
#include <sys/select.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <regex>
#include <string>
#include <vector>

namespace {

const char* const kUsage =
    "dendritectl: train, deploy and watch dendrite models from the shell\n"
    "\n"
    "usage: dendritectl [-d CONNINFO] COMMAND ARGUMENTS...\n"
    "\n"
    "  load TABLE FILE.csv                    COPY a CSV file (with a header line) into TABLE, its columns\n"
    "                                         matched by the header's names; a missing TABLE is created from\n"
    "                                         the header, with types read from the first 1,000 rows\n"
    "  train MODEL QUERY LABEL [NAME=VALUE]...  dendrite.train; NAME=VALUE for its other arguments,\n"
    "                                         e.g. epochs=20 hidden={64,32} algorithm=gbdt\n"
    "  compare NAME QUERY LABEL [NAME=VALUE]... dendrite.compare: a leaderboard of algorithms\n"
    "  retrain MODEL [NAME=VALUE]...          dendrite.retrain (query=, evaluation_query=, promote=)\n"
    "  deploy MODEL [VERSION]                 make a version (default: the latest) serve\n"
    "  rollback MODEL                         return to the version deployed before\n"
    "  health MODEL [SINCE]                   dendrite.model_health over a window (default '7 days')\n"
    "  report MODEL [VERSION] -o FILE.html    write dendrite.report to a file\n"
    "\n"
    "Connection: -d takes a conninfo string or URI; otherwise PGHOST, PGPORT, PGUSER, PGDATABASE... apply.\n"
    "dendritectl is installed in PostgreSQL's bindir (pg_config --bindir), and make install links it from\n"
    "/usr/local/bin.\n"
    "Ctrl-C cancels the running statement on the server. Exit status: 0 success, 1 the server reported an\n"
    "error (a canceled statement included), 2 bad usage or connection.\n";

[[noreturn]] void usage_error(const std::string& message) {
    std::fprintf(stderr, "dendritectl: %s\n\n%s", message.c_str(), kUsage);
    std::exit(2);
}

struct ConnectionCloser {
    void operator()(PGconn* connection) const { PQfinish(connection); }
};
struct ResultClearer {
    void operator()(PGresult* result) const { PQclear(result); }
};
using Connection = std::unique_ptr<PGconn, ConnectionCloser>;
using Result = std::unique_ptr<PGresult, ResultClearer>;

// The progress bar: redrawn in place on a terminal, a line per tenth otherwise (logs, tests).
class Progress {
public:
    explicit Progress(std::string label) : label_(std::move(label)), terminal_(isatty(STDERR_FILENO) == 1) {}
    void update(double done, double total, const std::string& detail = {}) {
        const double fraction = total > 0 ? std::min(1.0, done / total) : 0.0;
        const int tenth = int(fraction * 10);
        if (terminal_) {
            const int filled = int(fraction * 30);
            std::fprintf(stderr, "\r%s [%s%s] %3d%% %s\033[K", label_.c_str(), std::string(size_t(filled), '#').c_str(),
                         std::string(size_t(30 - filled), '.').c_str(), int(fraction * 100), detail.c_str());
        } else if (tenth > last_tenth_) {
            std::fprintf(stderr, "%s %3d%% %s\n", label_.c_str(), tenth * 10, detail.c_str());
        }
        last_tenth_ = std::max(last_tenth_, tenth);
        drawn_ = true;
    }
    void finish() {
        if (terminal_ && drawn_) std::fputc('\n', stderr);
        drawn_ = false;
    }

private:
    std::string label_;
    bool terminal_;
    int last_tenth_ = -1;
    bool drawn_ = false;
};

// value quoted by libpq as a literal (PQescapeLiteral) or an identifier (PQescapeIdentifier).
std::string quoted(PGconn* connection, const std::string& value,
                   char* (*escape)(PGconn*, const char*, size_t) = PQescapeLiteral) {
    char* escaped = escape(connection, value.c_str(), value.size());
    if (!escaped) usage_error(PQerrorMessage(connection));
    std::string out(escaped);
    PQfreemem(escaped);
    return out;
}
std::string literal(PGconn* connection, const std::string& value) { return quoted(connection, value); }

// Prints an error's message, detail and hint as psql does, and returns 1.
int report_error(const PGresult* result, PGconn* connection) {
    const char* severity = result ? PQresultErrorField(result, PG_DIAG_SEVERITY) : nullptr;
    const char* message = result ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
    std::fprintf(stderr, "dendritectl: %s: %s\n", severity ? severity : "ERROR",
                 message ? message : PQerrorMessage(connection));
    if (result) {
        if (const char* detail = PQresultErrorField(result, PG_DIAG_MESSAGE_DETAIL))
            std::fprintf(stderr, "DETAIL:  %s\n", detail);
        if (const char* hint = PQresultErrorField(result, PG_DIAG_MESSAGE_HINT))
            std::fprintf(stderr, "HINT:  %s\n", hint);
    }
    return 1;
}

// Prints a result as an aligned table, like psql's default output.
void print_table(const PGresult* result) {
    const int rows = PQntuples(result), columns = PQnfields(result);
    std::vector<size_t> width(static_cast<size_t>(columns));
    for (int c = 0; c < columns; ++c) {
        width[size_t(c)] = std::strlen(PQfname(result, c));
        for (int r = 0; r < rows; ++r)
            width[size_t(c)] = std::max(width[size_t(c)], std::strlen(PQgetvalue(result, r, c)));
    }
    auto line = [&](auto cell) {
        for (int c = 0; c < columns; ++c) std::printf("%s%-*s", c ? " | " : " ", int(width[size_t(c)]), cell(c));
        std::printf("\n");
    };
    line([&](int c) { return PQfname(result, c); });
    for (int c = 0; c < columns; ++c) std::printf("%s%s", c ? "-+-" : "-", std::string(width[size_t(c)], '-').c_str());
    std::printf("-\n");
    for (int r = 0; r < rows; ++r) line([&](int c) { return PQgetvalue(result, r, c); });
    std::printf("(%d row%s)\n", rows, rows == 1 ? "" : "s");
}

// Prints a one-row result as "name: value" lines.
void print_record(const PGresult* result) {
    size_t width = 0;
    for (int c = 0; c < PQnfields(result); ++c) width = std::max(width, std::strlen(PQfname(result, c)));
    for (int r = 0; r < PQntuples(result); ++r)
        for (int c = 0; c < PQnfields(result); ++c)
            std::printf("%-*s  %s\n", int(width + 1), (std::string(PQfname(result, c)) + ":").c_str(),
                        PQgetisnull(result, r, c) ? "(null)" : PQgetvalue(result, r, c));
}

// The epoch notices of dendrite.train ("epoch 3/10: loss ..." or "round 20/300: ...") drive the bar.
void on_notice(void* argument, const PGresult* notice) {
    auto* progress = static_cast<Progress*>(argument);
    const char* message = PQresultErrorField(notice, PG_DIAG_MESSAGE_PRIMARY);
    if (!message) return;
    int done = 0, total = 0;
    char unit[16] = {0};
    if (std::sscanf(message, "%15s %d/%d:", unit, &done, &total) == 3 &&
        (std::strcmp(unit, "epoch") == 0 || std::strcmp(unit, "round") == 0)) {
        const char* loss = std::strstr(message, "validation loss");
        const char* pr_auc = std::strstr(message, "pr_auc");
        std::string detail = std::string(unit) + " " + std::to_string(done) + "/" + std::to_string(total);
        if (pr_auc)
            detail += ", " + std::string(pr_auc, strcspn(pr_auc, ","));
        else if (loss)
            detail += ", " + std::string(loss, strcspn(loss, ","));
        progress->update(done, total, detail);
    } else {
        std::fprintf(stderr, "%s: %s\n", PQresultErrorField(notice, PG_DIAG_SEVERITY), message);
    }
}

// Ctrl-C (SIGINT) or SIGTERM while a statement runs asks the server to cancel it, as psql does: a training
// stops at its next batch and the statement fails with 57014, which is reported like any error. Without
// this the backend would go on training for a client that is gone. PQcancel is async-signal-safe.
PGcancel* volatile running_statement = nullptr;

extern "C" void cancel_running_statement(int signal_number) {
    const int saved_errno = errno;
    char message[256];
    if (PGcancel* cancel = running_statement) {
        PQcancel(cancel, message, sizeof message);
    } else {  // nothing on the server to cancel: end as the signal would have
        signal(signal_number, SIG_DFL);
        raise(signal_number);
    }
    errno = saved_errno;
}

void install_cancel_handler() {
    struct sigaction action {};
    action.sa_handler = cancel_running_statement;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
}

// Runs a statement, waiting on the socket so that notices (training progress) arrive as they are sent.
Result run(PGconn* connection, const std::string& sql, Progress* progress = nullptr) {
    if (progress) PQsetNoticeReceiver(connection, on_notice, progress);
    if (!PQsendQuery(connection, sql.c_str())) return Result(nullptr);
    running_statement = PQgetCancel(connection);
    Result last(nullptr);
    for (;;) {
        while (PQisBusy(connection)) {
            fd_set sockets;
            FD_ZERO(&sockets);
            FD_SET(PQsocket(connection), &sockets);
            if (select(PQsocket(connection) + 1, &sockets, nullptr, nullptr, nullptr) < 0) {
                if (errno == EINTR) continue;  // a signal: the cancel request is on its way
                break;
            }
            if (!PQconsumeInput(connection)) break;
        }
        PGresult* next = PQgetResult(connection);
        if (!next) break;
        last.reset(next);
    }
    PGcancel* cancel = running_statement;
    running_statement = nullptr;
    PQfreeCancel(cancel);
    if (progress) progress->finish();
    return last;
}

bool succeeded(const Result& result) {
    return result &&
           (PQresultStatus(result.get()) == PGRES_TUPLES_OK || PQresultStatus(result.get()) == PGRES_COMMAND_OK);
}

// The input argument names of dendrite.<function> (every overload), after the first `positional` ones
// (those the command line gives by position), in order.
std::vector<std::string> argument_names(PGconn* connection, const std::string& function, int positional) {
    Result result(PQexec(connection, ("SELECT DISTINCT a.name, a.n FROM pg_catalog.pg_proc p, "
                                      "unnest(p.proargnames) WITH ORDINALITY a(name, n) "
                                      "WHERE p.pronamespace = 'dendrite'::regnamespace AND p.proname = " +
                                      literal(connection, function) +
                                      " AND (p.proargmodes IS NULL OR p.proargmodes[a.n] IN ('i', 'b')) AND a.n > " +
                                      std::to_string(positional) + " ORDER BY a.n")
                                         .c_str()));
    std::vector<std::string> names;
    if (!result || PQresultStatus(result.get()) != PGRES_TUPLES_OK) return names;
    for (int r = 0; r < PQntuples(result.get()); ++r) {
        const std::string name = PQgetvalue(result.get(), r, 0);
        if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
    return names;
}

// NAME=VALUE arguments as named SQL arguments of dendrite.<function>: , name => 'value'. A name the function
// does not take is bad usage, with the names it takes.
std::string named_arguments(PGconn* connection, const std::string& function, int positional,
                            const std::vector<std::string>& pairs) {
    std::string sql;
    std::vector<std::string> valid;
    for (const std::string& pair : pairs) {
        const size_t equals = pair.find('=');
        if (equals == std::string::npos || equals == 0) usage_error("expected NAME=VALUE, got \"" + pair + "\"");
        const std::string name = pair.substr(0, equals);
        if (name.find_first_not_of("abcdefghijklmnopqrstuvwxyz_0123456789") != std::string::npos)
            usage_error("\"" + name + "\" is not an argument name");
        if (valid.empty()) valid = argument_names(connection, function, positional);
        if (!valid.empty() && std::find(valid.begin(), valid.end(), name) == valid.end()) {
            std::string list;
            for (const std::string& v : valid) list += (list.empty() ? "" : ", ") + v;
            usage_error("dendrite." + function + " has no argument \"" + name + "\"; its arguments are: " + list);
        }
        sql += ", " + name + " => " + literal(connection, pair.substr(equals + 1));
    }
    return sql;
}

// "512 KB", "3.2 MB": a size as a person reads it.
std::string human_bytes(long bytes) {
    char text[32];
    if (bytes < 1024)
        std::snprintf(text, sizeof text, "%ld B", bytes);
    else if (bytes < 1024 * 1024)
        std::snprintf(text, sizeof text, "%.0f KB", double(bytes) / 1024);
    else
        std::snprintf(text, sizeof text, "%.1f MB", double(bytes) / (1024 * 1024));
    return text;
}

// One CSV record from text at pos (RFC 4180: quoted fields may hold commas, doubled quotes and newlines).
// Returns false at the end of text. quoted[i]: the field was quoted (an unquoted empty field is NULL to COPY).
bool next_csv_record(const std::string& text, size_t& pos, std::vector<std::string>& fields,
                     std::vector<bool>& quoted) {
    fields.clear();
    quoted.clear();
    if (pos >= text.size()) return false;
    std::string field;
    bool in_quotes = false, was_quoted = false;
    for (; pos < text.size(); ++pos) {
        const char ch = text[pos];
        if (in_quotes) {
            if (ch == '"' && pos + 1 < text.size() && text[pos + 1] == '"') {
                field += '"';
                ++pos;
            } else if (ch == '"') {
                in_quotes = false;
            } else {
                field += ch;
            }
        } else if (ch == '"') {
            in_quotes = was_quoted = true;
        } else if (ch == ',') {
            fields.push_back(field);
            quoted.push_back(was_quoted);
            field.clear();
            was_quoted = false;
        } else if (ch == '\n' || ch == '\r') {
            if (ch == '\r' && pos + 1 < text.size() && text[pos + 1] == '\n') ++pos;
            ++pos;
            break;
        } else {
            field += ch;
        }
    }
    fields.push_back(field);
    quoted.push_back(was_quoted);
    return true;
}

// The type of a column from its values in a sample: boolean, bigint, numeric, date, timestamp, timestamptz,
// or text (also when the sample has no value).
class TypeGuess {
public:
    void see(const std::string& value) {
        static const std::regex boolean("true|false|t|f", std::regex::icase);
        static const std::regex integer("[+-]?[0-9]{1,18}");
        static const std::regex number("[+-]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][+-]?[0-9]+)?");
        static const std::regex date("[0-9]{4}-[0-9]{2}-[0-9]{2}");
        static const std::regex timestamp("[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]+)?)?");
        static const std::regex zoned(
            "[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]+)?)?([+-][0-9]{2}(:?[0-9]{2})?|Z)");
        seen_ = true;
        boolean_ = boolean_ && std::regex_match(value, boolean);
        integer_ = integer_ && std::regex_match(value, integer);
        number_ = number_ && std::regex_match(value, number);
        const bool is_date = std::regex_match(value, date);
        const bool is_timestamp = !is_date && std::regex_match(value, timestamp);
        const bool is_zoned = !is_date && !is_timestamp && std::regex_match(value, zoned);
        date_ = date_ && is_date;
        timestamp_ = timestamp_ && (is_date || is_timestamp);
        zoned_ = zoned_ && (is_date || is_timestamp || is_zoned);
    }
    const char* type() const {
        if (!seen_) return "text";
        if (boolean_) return "boolean";
        if (integer_) return "bigint";
        if (number_) return "numeric";
        if (date_) return "date";
        if (timestamp_) return "timestamp";
        if (zoned_) return "timestamptz";
        return "text";
    }

private:
    bool seen_ = false, boolean_ = true, integer_ = true, number_ = true, date_ = true, timestamp_ = true,
         zoned_ = true;
};

std::string identifier(PGconn* connection, const std::string& name) {
    return quoted(connection, name, PQescapeIdentifier);
}

// The table a load names, as SQL: schema.table of lower-case identifiers as written, anything else quoted
// whole (as one name).
std::string table_identifier(PGconn* connection, const std::string& table) {
    static const std::regex plain("[a-z_][a-z0-9_$]*(\\.[a-z_][a-z0-9_$]*)?");
    return std::regex_match(table, plain) ? table : identifier(connection, table);
}

int load(PGconn* connection, const std::string& table, const std::string& path) {
    FILE* file = std::fopen(path.c_str(), "rb");
    if (!file) usage_error("cannot open " + path + ": " + std::strerror(errno));
    std::fseek(file, 0, SEEK_END);
    const long size = std::ftell(file);
    std::fseek(file, 0, SEEK_SET);
    // The header and a sample of rows (up to 1,000, from the first 8 MB): the columns' names and types.
    std::string head(size_t(std::min<long>(size, 8 << 20)), '\0');
    head.resize(std::fread(&head[0], 1, head.size(), file));
    std::fseek(file, 0, SEEK_SET);
    size_t pos = 0;
    std::vector<std::string> header, fields;
    std::vector<bool> quoted;
    if (!next_csv_record(head, pos, header, quoted) || (header.size() == 1 && header[0].empty())) {
        std::fclose(file);
        usage_error(path + " has no header line");
    }
    std::string columns;
    for (const std::string& name : header) columns += (columns.empty() ? "" : ", ") + identifier(connection, name);
    const std::string target = table_identifier(connection, table);
    Result found(
        PQexec(connection, ("SELECT pg_catalog.to_regclass(" + literal(connection, target) + ")::text").c_str()));
    if (!succeeded(found)) {
        std::fclose(file);
        return report_error(found.get(), connection);
    }
    std::string relation = PQgetisnull(found.get(), 0, 0) ? std::string() : PQgetvalue(found.get(), 0, 0);
    if (relation.empty()) {
        std::vector<TypeGuess> guesses(header.size());
        for (int row = 0; row < 1000 && next_csv_record(head, pos, fields, quoted); ++row) {
            if (pos >= head.size() && head.size() < size_t(size)) break;  // a record cut by the sample's end
            for (size_t c = 0; c < fields.size() && c < guesses.size(); ++c)
                if (!fields[c].empty() || quoted[c]) guesses[c].see(fields[c]);
        }
        std::string definition;
        for (size_t c = 0; c < header.size(); ++c)
            definition += (c ? ", " : "") + identifier(connection, header[c]) + " " + guesses[c].type();
        const std::string create = "CREATE TABLE " + target + " (" + definition + ")";
        Result created(PQexec(connection, create.c_str()));
        if (!succeeded(created)) {
            std::fclose(file);
            return report_error(created.get(), connection);
        }
        std::fprintf(stderr, "created table %s (%s) from the header and the first rows\n", target.c_str(),
                     definition.c_str());
        relation = target;
    }
    // By the header's names, not by position: the file's columns may come in any order, and the table may
    // have more (they get their defaults).
    const std::string copy = "COPY " + relation + " (" + columns + ") FROM STDIN WITH (FORMAT csv, HEADER true)";
    Result started(PQexec(connection, copy.c_str()));
    if (!started || PQresultStatus(started.get()) != PGRES_COPY_IN) {
        std::fclose(file);
        return report_error(started.get(), connection);
    }
    running_statement = PQgetCancel(connection);  // Ctrl-C cancels the COPY
    Progress progress("load " + table);
    std::vector<char> buffer(1 << 20);
    long sent = 0, lines = 0;
    size_t n;
    bool ok = true;
    while (ok && (n = std::fread(buffer.data(), 1, buffer.size(), file)) > 0) {
        ok = PQputCopyData(connection, buffer.data(), int(n)) == 1;
        sent += long(n);
        lines += long(std::count(buffer.data(), buffer.data() + n, '\n'));
        progress.update(
            double(sent), double(size),
            human_bytes(sent) + " of " + human_bytes(size) + ", ~" + std::to_string(std::max(0L, lines - 1)) + " rows");
    }
    std::fclose(file);
    progress.finish();
    PQputCopyEnd(connection, ok ? nullptr : "dendritectl could not send the file");
    Result result(PQgetResult(connection));
    while (PGresult* extra = PQgetResult(connection)) PQclear(extra);
    PGcancel* cancel = running_statement;
    running_statement = nullptr;
    PQfreeCancel(cancel);
    if (!succeeded(result)) return report_error(result.get(), connection);
    std::printf("loaded %s rows into %s\n", PQcmdTuples(result.get()), relation.c_str());
    return 0;
}

int query_and_print(PGconn* connection, const std::string& sql, bool record, Progress* progress = nullptr) {
    Result result = run(connection, sql, progress);
    if (!succeeded(result)) return report_error(result.get(), connection);
    if (record)
        print_record(result.get());
    else
        print_table(result.get());
    return 0;
}

int write_report(PGconn* connection, const std::string& model, const std::string& version, const std::string& path) {
    Result result = run(connection, "SELECT dendrite.report(" + literal(connection, model) + ", " +
                                        (version.empty() ? "NULL" : literal(connection, version)) + ")");
    if (!succeeded(result)) return report_error(result.get(), connection);
    FILE* file = std::fopen(path.c_str(), "wb");
    if (!file) usage_error("cannot write " + path + ": " + std::strerror(errno));
    const char* html = PQgetvalue(result.get(), 0, 0);
    const size_t length = std::strlen(html);
    const bool written = std::fwrite(html, 1, length, file) == length;
    if (std::fclose(file) != 0 || !written) usage_error("cannot write " + path);
    std::printf("wrote %s (%zu bytes)\n", path.c_str(), length);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    std::string conninfo, output;
    for (size_t i = 0; i < args.size();) {
        if ((args[i] == "-d" || args[i] == "-o") && i + 1 < args.size()) {
            (args[i] == "-d" ? conninfo : output) = args[i + 1];
            args.erase(args.begin() + long(i), args.begin() + long(i) + 2);
        } else if (args[i] == "-h" || args[i] == "--help") {
            std::printf("%s", kUsage);
            return 0;
        } else {
            ++i;
        }
    }
    if (args.empty()) usage_error("no command");
    const std::string command = args[0];
    const std::vector<std::string> rest(args.begin() + 1, args.end());
    auto need = [&](size_t least, size_t most) {
        if (rest.size() < least || rest.size() > most) usage_error("wrong number of arguments for " + command);
    };

    Connection connection(PQconnectdb(conninfo.c_str()));
    if (PQstatus(connection.get()) != CONNECTION_OK) {
        std::fprintf(stderr, "dendritectl: %s", PQerrorMessage(connection.get()));
        return 2;
    }
    PGconn* c = connection.get();
    install_cancel_handler();
    if (command == "load") {
        need(2, 2);
        return load(c, rest[0], rest[1]);
    }
    if (command == "train" || command == "compare") {
        need(3, 64);
        Progress progress(command + " " + rest[0]);
        const std::string sql = "SELECT * FROM dendrite." + command + "(" + literal(c, rest[0]) + ", " +
                                literal(c, rest[1]) + ", " + literal(c, rest[2]) +
                                named_arguments(c, command, 3, std::vector<std::string>(rest.begin() + 3, rest.end())) +
                                ")";
        return query_and_print(c, sql, command == "train", &progress);
    }
    if (command == "retrain") {
        need(1, 64);
        Progress progress("retrain " + rest[0]);
        return query_and_print(
            c,
            "SELECT * FROM dendrite.retrain(" + literal(c, rest[0]) +
                named_arguments(c, "retrain", 1, std::vector<std::string>(rest.begin() + 1, rest.end())) + ")",
            true, &progress);
    }
    if (command == "deploy") {
        need(1, 2);
        return query_and_print(c,
                               "SELECT dendrite.deploy(" + literal(c, rest[0]) + ", " +
                                   (rest.size() > 1 ? literal(c, rest[1]) : std::string("NULL")) +
                                   ") AS deployed_version",
                               true);
    }
    if (command == "rollback") {
        need(1, 1);
        return query_and_print(c, "SELECT dendrite.rollback(" + literal(c, rest[0]) + ") AS serving_version", true);
    }
    if (command == "health") {
        need(1, 2);
        return query_and_print(c,
                               "SELECT * FROM dendrite.model_health(" + literal(c, rest[0]) + ", " +
                                   literal(c, rest.size() > 1 ? rest[1] : "7 days") + ")",
                               true);
    }
    if (command == "report") {
        need(1, 2);
        if (output.empty()) usage_error("report needs -o FILE.html");
        return write_report(c, rest[0], rest.size() > 1 ? rest[1] : std::string(), output);
    }
    usage_error("unknown command \"" + command + "\"");
}
