#include "pg_server.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace strowger::testing {
namespace {

namespace fs = std::filesystem;

bool hasServerBinaries(const fs::path& dir) {
  return ::access((dir / "initdb").c_str(), X_OK) == 0 &&
         ::access((dir / "pg_ctl").c_str(), X_OK) == 0 &&
         ::access((dir / "postgres").c_str(), X_OK) == 0;
}

bool asRoot() {
  return ::geteuid() == 0;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

std::string PgServer::binDir() {
  // pg_config knows the installation libpq came from; Debian keeps the server binaries beside
  // the version (/usr/lib/postgresql/15/bin), not on PATH.
  if (FILE* p = ::popen("pg_config --bindir 2>/dev/null", "r")) {
    char line[4096] = {};
    std::string dir;
    if (std::fgets(line, sizeof line, p)) dir = line;
    ::pclose(p);
    while (!dir.empty() && (dir.back() == '\n' || dir.back() == '\r'))
      dir.pop_back();
    if (!dir.empty() && hasServerBinaries(dir)) return dir;
  }
  std::vector<std::pair<int, fs::path>> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    fs::path bin = entry.path() / "bin";
    if (!hasServerBinaries(bin)) continue;
    found.emplace_back(std::atoi(entry.path().filename().c_str()), bin);
  }
  if (found.empty()) return {};
  std::sort(found.begin(), found.end());
  return found.back().second.string();
}

bool PgServer::available() {
  if (binDir().empty()) return false;
  if (!asRoot()) return true;
  const bool runuser = ::access("/usr/sbin/runuser", X_OK) == 0 ||
                       ::access("/sbin/runuser", X_OK) == 0 ||
                       ::access("/usr/bin/runuser", X_OK) == 0;
  return runuser && ::getpwnam("postgres") != nullptr;
}

PgServer::~PgServer() {
  if (running_) {
    run({bin_ + "/pg_ctl", "-D", dir_ + "/data", "-m", "immediate", "-w", "-t", "30", "stop"},
        dir_ + "/pg_ctl.log");
  }
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

int PgServer::run(const std::vector<std::string>& argv, const std::string& log) const {
  std::vector<std::string> full;
  if (asRoot()) full = {"runuser", "-u", "postgres", "--"};
  full.insert(full.end(), argv.begin(), argv.end());
  std::vector<char*> args;
  for (std::string& a : full)
    args.push_back(a.data());
  args.push_back(nullptr);

  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec: the test may have threads.
    int in = ::open("/dev/null", O_RDONLY);
    int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in >= 0) ::dup2(in, 0);
    if (out >= 0) {
      ::dup2(out, 1);
      ::dup2(out, 2);
    }
    // The postmaster must not inherit the test's sockets (a store's connections, say).
    ::close_range(3, ~0U, 0);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Expected<void, std::string> PgServer::create() {
  bin_ = binDir();
  if (bin_.empty()) return unexpected(std::string("PostgreSQL server binaries not found"));
  char pattern[] = "/tmp/strowger-pg.XXXXXX";
  if (::mkdtemp(pattern) == nullptr) return unexpected(std::string("mkdtemp failed"));
  dir_ = pattern;
  // postgres must reach its data directory and socket under it.
  ::chmod(dir_.c_str(), 0755);
  if (asRoot()) {
    const passwd* pw = ::getpwnam("postgres");
    if (pw == nullptr) return unexpected(std::string("running as root and no user postgres"));
    if (::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      return unexpected("chown " + dir_ + " failed");
    }
  }
  // Unique per instance: only names the socket (in a private directory anyway), but PostgreSQL
  // also derives its shared-memory key from it.
  static std::atomic<int> instances{0};
  std::random_device random;
  port_ = 20000 + static_cast<int>((static_cast<unsigned>(::getpid()) * 131u + random() +
                                    static_cast<unsigned>(instances++) * 7u) %
                                   40000u);

  const std::string log = dir_ + "/initdb.log";
  // trust: the socket is reachable only through a private directory. --no-sync, fsync off: a
  // test cluster need not survive a power cut.
  int rc = run({bin_ + "/initdb", "-D", dir_ + "/data", "-A", "trust", "-U", "postgres", "-E",
                "UTF8", "--locale=C", "--no-sync"},
               log);
  if (rc != 0) return unexpected("initdb failed (" + std::to_string(rc) + "): " + readFile(log));
  std::ofstream conf(dir_ + "/data/postgresql.conf", std::ios::app);
  conf << "listen_addresses = ''\n"
       << "unix_socket_directories = '" << dir_ << "'\n"
       << "port = " << port_ << "\n"
       << "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
       << "shared_buffers = 16MB\nmax_connections = 40\n"
       << "dynamic_shared_memory_type = mmap\n";
  if (!conf) return unexpected(std::string("cannot write postgresql.conf"));
  return {};
}

Expected<void, std::string> PgServer::start() {
  if (running_) return {};
  if (dir_.empty()) {
    if (auto created = create(); !created) return created;
  }
  int rc = run({bin_ + "/pg_ctl", "-D", dir_ + "/data", "-l", dir_ + "/server.log", "-w", "-t",
                "60", "start"},
               dir_ + "/pg_ctl.log");
  if (rc != 0) return unexpected("pg_ctl start failed: " + serverLog());
  running_ = true;
  return {};
}

Expected<void, std::string> PgServer::stop() {
  if (!running_) return {};
  int rc = run({bin_ + "/pg_ctl", "-D", dir_ + "/data", "-m", "fast", "-w", "-t", "60", "stop"},
               dir_ + "/pg_ctl.log");
  if (rc != 0) return unexpected("pg_ctl stop failed: " + readFile(dir_ + "/pg_ctl.log"));
  running_ = false;
  return {};
}

std::string PgServer::conninfo(const std::string& database) const {
  return "host=" + dir_ + " port=" + std::to_string(port_) + " dbname=" + database +
         " user=postgres";
}

std::string PgServer::serverLog() const {
  return readFile(dir_ + "/server.log");
}

Expected<std::string, std::string> PgServer::createDatabase() {
  const std::string name = "t" + std::to_string(++databases_);
  auto r = query("CREATE DATABASE " + name);
  if (!r) return unexpected(r.error());
  return conninfo(name);
}

Expected<PgServer::Rows, std::string> PgServer::query(const std::string& sql,
                                                      const std::string& database) const {
  PGconn* conn = PQconnectdb(conninfo(database).c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string error = PQerrorMessage(conn);
    PQfinish(conn);
    return unexpected(std::move(error));
  }
  PGresult* res = PQexec(conn, sql.c_str());
  const ExecStatusType status = PQresultStatus(res);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    std::string error = PQresultErrorMessage(res);
    PQclear(res);
    PQfinish(conn);
    return unexpected(std::move(error));
  }
  Rows rows;
  for (int i = 0; i < PQntuples(res); ++i) {
    std::vector<std::string> row;
    for (int c = 0; c < PQnfields(res); ++c) {
      row.emplace_back(PQgetisnull(res, i, c) ? "" : PQgetvalue(res, i, c));
    }
    rows.push_back(std::move(row));
  }
  PQclear(res);
  PQfinish(conn);
  return rows;
}

Expected<std::string, std::string> PgServer::scalar(const std::string& sql,
                                                    const std::string& database) const {
  auto rows = query(sql, database);
  if (!rows) return unexpected(rows.error());
  if (rows->empty() || rows->front().empty()) return std::string();
  return rows->front().front();
}

std::unique_ptr<PgServer>& PgTest::instance() {
  static std::unique_ptr<PgServer> server;
  return server;
}

std::string& PgTest::startError() {
  static std::string error;
  return error;
}

void PgTest::SetUpTestSuite() {
  startError().clear();
  if (!PgServer::available()) return;
  auto server = std::make_unique<PgServer>();
  if (auto started = server->start(); !started) {
    startError() = started.error();
    return;
  }
  instance() = std::move(server);
}

void PgTest::TearDownTestSuite() {
  instance().reset();
}

void PgTest::SetUp() {
  if (!PgServer::available()) GTEST_SKIP() << "PostgreSQL is not installed";
  ASSERT_TRUE(instance()) << "PostgreSQL did not start: " << startError();
  // A test that stopped the server leaves it stopped; the next one starts with it running.
  ASSERT_TRUE(instance()->start()) << "PostgreSQL did not start again";
}

PgServer& PgTest::server() {
  return *instance();
}

}  // namespace strowger::testing
