#pragma once

// libpq, loaded on first use. bsup does not link it: a program linked to libpq starts several
// milliseconds slower (libpq pulls in OpenSSL, GSSAPI and LDAP), and only the postgres driver
// needs it. The table's types come from the real header, so a mismatch is a compile error.

#include <libpq-fe.h>

namespace bsup::drivers::postgres {

struct Libpq {
    decltype(&::PQconnectStartParams) PQconnectStartParams = nullptr;
    decltype(&::PQconnectPoll) PQconnectPoll = nullptr;
    decltype(&::PQfinish) PQfinish = nullptr;
    decltype(&::PQstatus) PQstatus = nullptr;
    decltype(&::PQerrorMessage) PQerrorMessage = nullptr;
    decltype(&::PQsocket) PQsocket = nullptr;
    decltype(&::PQhost) PQhost = nullptr;
    decltype(&::PQport) PQport = nullptr;
    decltype(&::PQbackendPID) PQbackendPID = nullptr;
    decltype(&::PQsetnonblocking) PQsetnonblocking = nullptr;
    decltype(&::PQsendQueryParams) PQsendQueryParams = nullptr;
    decltype(&::PQsendQuery) PQsendQuery = nullptr;
    decltype(&::PQsendPrepare) PQsendPrepare = nullptr;
    decltype(&::PQsendQueryPrepared) PQsendQueryPrepared = nullptr;
    decltype(&::PQflush) PQflush = nullptr;
    decltype(&::PQconsumeInput) PQconsumeInput = nullptr;
    decltype(&::PQisBusy) PQisBusy = nullptr;
    decltype(&::PQgetResult) PQgetResult = nullptr;
    decltype(&::PQresultStatus) PQresultStatus = nullptr;
    decltype(&::PQresultErrorField) PQresultErrorField = nullptr;
    decltype(&::PQresultErrorMessage) PQresultErrorMessage = nullptr;
    decltype(&::PQclear) PQclear = nullptr;
    decltype(&::PQntuples) PQntuples = nullptr;
    decltype(&::PQnfields) PQnfields = nullptr;
    decltype(&::PQgetvalue) PQgetvalue = nullptr;
    decltype(&::PQgetlength) PQgetlength = nullptr;
    decltype(&::PQgetisnull) PQgetisnull = nullptr;
    decltype(&::PQnotifies) PQnotifies = nullptr;
    decltype(&::PQfreemem) PQfreemem = nullptr;
    decltype(&::PQgetCancel) PQgetCancel = nullptr;
    decltype(&::PQcancel) PQcancel = nullptr;
    decltype(&::PQfreeCancel) PQfreeCancel = nullptr;
};

// The loaded library; loads libpq.so.5 on the first call. Throws a backend Error (exit 3) that
// says to install libpq5 when it cannot be loaded or lacks a function.
const Libpq& libpq();

} // namespace bsup::drivers::postgres
