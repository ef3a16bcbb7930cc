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

#include <libpq-fe.h>  // types and constants only: nothing here references libpq

#include <memory>
#include <string>

#include "picloud/sdk/error.hpp"

namespace picloud::kernel::db {

// A connection opened by Poco's PostgreSQL connector, inside the module: the
// kernel sees only this name, so it maps no Poco::Data library of its own.
struct PostgresSession;

// The libpq functions the kernel uses, and the three things it needs from
// Poco's connector.
struct PostgresDriver {
  // A new session, or nullptr with `error` set (the server's message).
  PostgresSession* (*open_session)(const std::string& connection, std::string& error);
  PGconn* (*connection_of)(PostgresSession* session);
  void (*close_session)(PostgresSession* session);
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

// The module's entry point. Its name changes with PostgresDriver's layout:
// a module left from another build is then refused by name instead of
// called through the wrong table.
#define PICLOUD_POSTGRES_DRIVER_SYMBOL "picloud_postgres_driver_2"
using PostgresDriverEntry = const PostgresDriver* (*)();

// The driver, mapping the module on first use (once per process; it stays
// mapped). An error names where it looked.
sdk::Result<const PostgresDriver*> postgres_driver();

// A session that closes itself.
class PostgresSessionHandle {
 public:
  // An error of kind unavailable carries the server's message.
  static sdk::Result<PostgresSessionHandle> open(const PostgresDriver& driver, const std::string& connection);
  PGconn* connection() const { return driver_->connection_of(session_.get()); }

 private:
  struct Close {
    const PostgresDriver* driver;
    void operator()(PostgresSession* s) const { driver->close_session(s); }
  };
  PostgresSessionHandle(const PostgresDriver& driver, PostgresSession* s) : driver_(&driver), session_(s, Close{&driver}) {}
  const PostgresDriver* driver_;
  std::unique_ptr<PostgresSession, Close> session_;
};

}  // namespace picloud::kernel::db
