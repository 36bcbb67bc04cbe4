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
#include <string>
#include <vector>

namespace {

const char* const kUsage =
    "dendritectl: train, deploy and watch dendrite models from the shell\n"
    "\n"
    "usage: dendritectl [-d CONNINFO] COMMAND ARGUMENTS...\n"
    "\n"
    "  load TABLE FILE.csv                    COPY a CSV file (with a header line) into an existing table\n"
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

std::string literal(PGconn* connection, const std::string& value) {
    char* escaped = PQescapeLiteral(connection, value.c_str(), value.size());
    if (!escaped) usage_error(PQerrorMessage(connection));
    std::string out(escaped);
    PQfreemem(escaped);
    return out;
}

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

// NAME=VALUE arguments as named SQL arguments: , name => 'value'. Names must be identifiers.
std::string named_arguments(PGconn* connection, const std::vector<std::string>& pairs) {
    std::string sql;
    for (const std::string& pair : pairs) {
        const size_t equals = pair.find('=');
        if (equals == std::string::npos || equals == 0) usage_error("expected NAME=VALUE, got \"" + pair + "\"");
        const std::string name = pair.substr(0, equals);
        if (name.find_first_not_of("abcdefghijklmnopqrstuvwxyz_0123456789") != std::string::npos)
            usage_error("\"" + name + "\" is not an argument name");
        sql += ", " + name + " => " + literal(connection, pair.substr(equals + 1));
    }
    return sql;
}

int load(PGconn* connection, const std::string& table, const std::string& path) {
    FILE* file = std::fopen(path.c_str(), "rb");
    if (!file) usage_error("cannot open " + path + ": " + std::strerror(errno));
    std::fseek(file, 0, SEEK_END);
    const long size = std::ftell(file);
    std::fseek(file, 0, SEEK_SET);
    // The table name is an identifier the server parses (schema.table allowed), passed through regclass.
    Result check(PQexec(connection, ("SELECT " + literal(connection, table) + "::regclass::text").c_str()));
    if (!succeeded(check)) {
        std::fclose(file);
        return report_error(check.get(), connection);
    }
    const std::string copy =
        "COPY " + std::string(PQgetvalue(check.get(), 0, 0)) + " FROM STDIN WITH (FORMAT csv, HEADER true)";
    Result started(PQexec(connection, copy.c_str()));
    if (!started || PQresultStatus(started.get()) != PGRES_COPY_IN) {
        std::fclose(file);
        return report_error(started.get(), connection);
    }
    running_statement = PQgetCancel(connection);  // Ctrl-C cancels the COPY
    Progress progress("load " + table);
    std::vector<char> buffer(1 << 20);
    long sent = 0;
    size_t n;
    bool ok = true;
    while (ok && (n = std::fread(buffer.data(), 1, buffer.size(), file)) > 0) {
        ok = PQputCopyData(connection, buffer.data(), int(n)) == 1;
        sent += long(n);
        progress.update(double(sent), double(size),
                        std::to_string(sent >> 20) + " of " + std::to_string(size >> 20) + " MB");
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
    std::printf("loaded %s rows into %s\n", PQcmdTuples(result.get()), PQgetvalue(check.get(), 0, 0));
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
                                named_arguments(c, std::vector<std::string>(rest.begin() + 3, rest.end())) + ")";
        return query_and_print(c, sql, command == "train", &progress);
    }
    if (command == "retrain") {
        need(1, 64);
        Progress progress("retrain " + rest[0]);
        return query_and_print(c,
                               "SELECT * FROM dendrite.retrain(" + literal(c, rest[0]) +
                                   named_arguments(c, std::vector<std::string>(rest.begin() + 1, rest.end())) + ")",
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
