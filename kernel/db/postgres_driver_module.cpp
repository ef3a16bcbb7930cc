// picloud_postgres.so: libpq and Poco's PostgreSQL connector behind the
// table of postgres_driver.hpp. Built and installed with the kernel.
#include <Poco/Data/PostgreSQL/Connector.h>
#include <Poco/Data/PostgreSQL/SessionImpl.h>
#include <Poco/Data/Session.h>

#include "kernel/db/postgres_driver.hpp"

using picloud::kernel::db::PostgresDriver;

namespace picloud::kernel::db {

struct PostgresSession {
  Poco::Data::Session session;
};

}  // namespace picloud::kernel::db

using picloud::kernel::db::PostgresSession;

extern "C" __attribute__((visibility("default"))) const PostgresDriver* picloud_postgres_driver_2() {
  static const bool registered = [] {
    Poco::Data::PostgreSQL::Connector::registerConnector();
    return true;
  }();
  (void)registered;
  static const PostgresDriver driver{
      [](const std::string& connection, std::string& error) -> PostgresSession* {
        try {
          return new PostgresSession{Poco::Data::Session("postgresql", connection)};
        } catch (const Poco::Exception& e) {
          error = e.displayText();
        } catch (const std::exception& e) {
          error = e.what();
        }
        while (!error.empty() && (error.back() == '\n' || error.back() == ' ')) error.pop_back();
        return nullptr;
      },
      [](PostgresSession* s) -> PGconn* {
        return static_cast<Poco::Data::PostgreSQL::SessionImpl*>(s->session.impl())->handle();
      },
      [](PostgresSession* s) { delete s; },
      &PQexec, &PQexecParams, &PQexecPrepared, &PQprepare, &PQclear, &PQstatus, &PQresultStatus,
      &PQresultErrorField, &PQresultErrorMessage, &PQerrorMessage, &PQcmdTuples, &PQnfields, &PQntuples,
      &PQfname, &PQftype, &PQgetisnull, &PQgetvalue, &PQgetlength,
      &PQsocket, &PQconsumeInput, &PQnotifies, &PQfreemem};
  return &driver;
}
