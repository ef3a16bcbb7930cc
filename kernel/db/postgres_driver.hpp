// PostgreSQL support, mapped only when a PostgreSQL database is opened.
//
// libpq and Poco's PostgreSQL connector bring some twenty shared libraries
// (LDAP, Kerberos, GnuTLS, p11-kit, ...) and about 3 MB of resident memory to
// every process that links them. They live in picloud_postgres.so instead,
// which postgres_driver() maps the first time a postgresql:// URL is opened:
// a server on SQLite never maps them. The module is part of the kernel (built
// and installed with it), not a plugin, so C++ types may cross.
//
// It is looked for beside the executable (a build tree), in
// ../lib/picloud/ from it (an installation), and where the build put it.
#pragma once

#include <Poco/Data/Session.h>
#include <libpq-fe.h>  // types and constants only: nothing here references libpq

#include "picloud/sdk/error.hpp"

namespace picloud::kernel::db {

// The libpq functions the kernel uses, and the two things it needs from
// Poco's connector.
struct PostgresDriver {
  void (*register_connector)();
  PGconn* (*connection_of)(Poco::Data::Session& session);
  decltype(&PQexec) exec;
  decltype(&PQexecParams) exec_params;
  decltype(&PQexecPrepared) exec_prepared;
  decltype(&PQprepare) prepare;
  decltype(&PQclear) clear;
  decltype(&PQstatus) status;
  decltype(&PQresultStatus) result_status;
  decltype(&PQresultErrorField) result_error_field;
  decltype(&PQresultErrorMessage) result_error_message;
  decltype(&PQerrorMessage) error_message;
  decltype(&PQcmdTuples) cmd_tuples;
  decltype(&PQnfields) nfields;
  decltype(&PQntuples) ntuples;
  decltype(&PQfname) fname;
  decltype(&PQftype) ftype;
  decltype(&PQgetisnull) getisnull;
  decltype(&PQgetvalue) getvalue;
  decltype(&PQgetlength) getlength;
  // LISTEN/NOTIFY (kernel/db/notification_listener.hpp).
  decltype(&PQsocket) socket;
  decltype(&PQconsumeInput) consume_input;
  decltype(&PQnotifies) notifies;
  decltype(&PQfreemem) freemem;
};

// The module's entry point.
#define PICLOUD_POSTGRES_DRIVER_SYMBOL "picloud_postgres_driver"
using PostgresDriverEntry = const PostgresDriver* (*)();

// The driver, mapping the module on first use (once per process; it stays
// mapped). An error names where it looked.
sdk::Result<const PostgresDriver*> postgres_driver();

}  // namespace picloud::kernel::db
