/*
 * floor_libpq: the least a PostgreSQL client can do for one lock call: one connection and one
 * query, with libpq linked as usual. bench/postgres.sh times bsup against it.
 *
 * Build:  cc -O2 -o floor_libpq bench/floor_libpq.c $(pkg-config --cflags --libs libpq)
 * Usage:  floor_libpq CONNINFO SQL       exit 0 when the query ran, 3 otherwise
 */
#include <libpq-fe.h>
#include <stdio.h>

int main(int argc, char** argv) {
    if (argc != 3) {
        fputs("usage: floor_libpq CONNINFO SQL\n", stderr);
        return 2;
    }
    PGconn* conn = PQconnectdb(argv[1]);
    if (PQstatus(conn) != CONNECTION_OK) {
        fputs(PQerrorMessage(conn), stderr);
        PQfinish(conn);
        return 3;
    }
    PGresult* result = PQexecParams(conn, argv[2], 0, NULL, NULL, NULL, NULL, 0);
    int ok = PQresultStatus(result) == PGRES_TUPLES_OK;
    if (!ok) {
        fputs(PQerrorMessage(conn), stderr);
    }
    PQclear(result);
    PQfinish(conn);
    return ok ? 0 : 3;
}
