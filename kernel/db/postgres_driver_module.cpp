// picloud_postgres.so: libpq and Poco's PostgreSQL connector behind the
// table of postgres_driver.hpp. Built and installed with the kernel.
#include <Poco/Data/PostgreSQL/Connector.h>
#include <Poco/Data/PostgreSQL/SessionImpl.h>

#include "kernel/db/postgres_driver.hpp"

using picloud::kernel::db::PostgresDriver;

extern "C" __attribute__((visibility("default"))) const PostgresDriver* picloud_postgres_driver() {
  static const PostgresDriver driver{
      [] { Poco::Data::PostgreSQL::Connector::registerConnector(); },
      [](Poco::Data::Session& session) -> PGconn* {
        return static_cast<Poco::Data::PostgreSQL::SessionImpl*>(session.impl())->handle();
      },
      &PQexec, &PQexecParams, &PQexecPrepared, &PQprepare, &PQclear, &PQstatus, &PQresultStatus,
      &PQresultErrorField, &PQresultErrorMessage, &PQerrorMessage, &PQcmdTuples, &PQnfields, &PQntuples,
      &PQfname, &PQftype, &PQgetisnull, &PQgetvalue, &PQgetlength,
      &PQsocket, &PQconsumeInput, &PQnotifies, &PQfreemem};
  return &driver;
}
